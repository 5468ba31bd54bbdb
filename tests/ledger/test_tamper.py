"""Tampering with the books is caught, even by someone with database access (issue 20,
item 1): each case below said "intact" before entries were sealed into the chain and the
chain was anchored by keyed checkpoints."""

import json
from datetime import date

import pytest
import sqlalchemy as sa

from association.audit.checkpoints import daily_checkpoint, make_checkpoint, parse_marks
from association.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from association.extensions import db
from association.ledger import accounts, journal
from association.ledger.journal import Line
from association.ledger.models import AccountMonthTotal, EntrySource, JournalEntry, Posting, Side
from tests.audit.tamper import rewrite_chain_from, tamper


def _post(amount=50_000, day=date(2025, 2, 3)):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry = journal.post_entry(day, "Gift", EntrySource.ADJUSTMENT,
                               [Line(cash, Side.DEBIT, amount), Line(income, Side.CREDIT, amount)])
    db.session.commit()
    return entry.id


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def _checkpoint(runner) -> str:
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _postings(entry_id):
    return list(db.session.scalars(sa.select(Posting).where(Posting.entry_id == entry_id)
                                   .order_by(Posting.id)))


def test_a_changed_posting_amount_is_caught(books, runner):
    _post()
    entry_id = _post(30_000)
    assert _verify(runner).exit_code == 0
    first = _postings(entry_id)[0]
    tamper("UPDATE posting SET amount_cents = 3 WHERE id = :i", i=first.id)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Journal entry {entry_id}:" in result.output
    assert "month totals of account" in result.output


def test_a_balanced_pair_of_changed_postings_is_caught(books, runner):
    entry_id = _post(30_000)
    _post()
    tamper("UPDATE posting SET amount_cents = 100 WHERE entry_id = :e", e=entry_id)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"Journal entry {entry_id}:" in result.output


def test_changed_month_totals_are_caught_naming_the_month(books, runner):
    _post()
    cash = accounts.account("cash").id
    tamper("UPDATE account_month_total SET debit_cents = debit_cents + 100000 "
           "WHERE account_id = :a", a=cash)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"account {cash} for Feb 2025" in result.output


def test_a_deleted_entry_is_caught(books, runner):
    _post(1_000)
    gone = _post()
    tamper("DELETE FROM posting WHERE entry_id = :e", e=gone)
    tamper("DELETE FROM journal_entry WHERE id = :e", e=gone)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"entry {gone} was sealed in the audit trail but is gone" in result.output


def test_an_entry_without_a_seal_is_caught(books, runner):
    _post()
    kept = _post(1_000)
    # As an entry slipped in without going through post_entry would be.
    tamper("DELETE FROM audit_event WHERE object_type = 'journal_entry' AND action = 'seal' "
           "AND object_id = :e", e=str(kept))
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"entry {kept} has no seal" in result.output


def test_a_deleted_tail_with_the_head_moved_back_is_caught(books, runner):
    _post()
    assert _verify(runner).exit_code == 0  # its record is the newest event: removed below
    value = _checkpoint(runner)
    last = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    seq, prev = last.seq, last.prev_hash
    tamper("DELETE FROM audit_event WHERE seq = :s", s=seq)
    tamper("UPDATE audit_head SET seq = :s, hash = :h", s=seq - 1, h=prev)
    result = _verify(runner)  # the stored checkpoint is beyond the remaining events
    assert result.exit_code == 1
    assert f"a checkpoint signed event {seq}" in result.output

    # With the stored checkpoints gone too (on PostgreSQL only the tables' owner can, with
    # the triggers off), their absence is reported, and the copy kept outside the database
    # names the removed event.
    tamper("DELETE FROM audit_checkpoint")
    result = _verify(runner)
    assert result.exit_code == 1 and "there is no checkpoint at all" in result.output
    result = _verify(runner, "--checkpoint", value)
    assert result.exit_code == 1
    # The verifications since have been chained after the shortened chain: event {seq}
    # is now another one than the checkpoint signed.
    assert f"BROKEN at event {seq}" in result.output and "checkpoint" in result.output


def test_a_recomputed_tail_is_caught_by_a_checkpoint(books, runner):
    _post()
    value = _checkpoint(runner)
    _post(2_000)
    target = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.action == "seal")
                               .order_by(AuditEvent.seq).limit(1))
    rewrite_chain_from(target, "mallory")
    result = _verify(runner)
    assert result.exit_code == 1
    assert "not the one a checkpoint signed" in result.output

    tamper("DELETE FROM audit_checkpoint")
    result = _verify(runner, "--checkpoint", value)
    assert result.exit_code == 1
    assert "not the one a checkpoint signed" in result.output


def test_a_checkpoint_made_without_the_key_is_refused(books, runner):
    _post()
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    forged = f"AC1-{head.seq}-{head.hash}-{'0' * 64}"
    result = _verify(runner, "--checkpoint", forged)
    assert result.exit_code == 1
    assert f"Checkpoint at event {head.seq} does not carry this installation's signature" \
        in result.output


def test_checkpoints_are_read_from_a_file_and_bad_input_is_refused(books, runner, tmp_path):
    _post()
    value = _checkpoint(runner)
    saved = tmp_path / "MANIFEST.txt"
    saved.write_text(f"Auditor's pack\nAudit checkpoint: {value}\nmore lines\n")
    assert _verify(runner, "--checkpoint", str(saved)).exit_code == 0
    result = _verify(runner, "--checkpoint", "not-a-checkpoint")
    assert result.exit_code == 1
    assert "no checkpoint found" in result.output
    assert parse_marks(f"x {value} y {value}")[1].value == value


def test_the_checkpoint_is_signed_with_the_key_from_the_environment(books, app):
    row = make_checkpoint()
    assert parse_marks(row.value)[0].signed()
    app.config["AUDIT_CHECKPOINT_KEY"] = "another-key-" + "x" * 32
    assert not parse_marks(row.value)[0].signed()


def test_the_daily_checkpoint_is_made_once_a_day(books):
    from association.audit import worker

    def days():
        return db.session.scalar(sa.select(sa.func.count(AuditCheckpoint.id))
                                 .where(AuditCheckpoint.why == "day"))

    worker._made.clear()
    # Append-only on PostgreSQL; the keyed one stays (without it the trail fails its check).
    tamper("DELETE FROM audit_checkpoint WHERE why <> 'keyed'")
    worker.checkpoint_step()
    assert days() == 1
    worker.checkpoint_step()
    worker._made.clear()
    worker.checkpoint_step()  # another worker: the row is there
    assert days() == 1
    assert not daily_checkpoint()
    assert daily_checkpoint(date(2020, 1, 1))
    assert db.session.scalar(sa.select(sa.func.count(AuditCheckpoint.id))
                             .where(AuditCheckpoint.why == "day")) == 2


def test_posted_rows_are_append_only_on_postgresql_and_caught_everywhere(books, runner):
    entry_id = _post()
    if db.engine.dialect.name == "postgresql":
        for sql in ("UPDATE posting SET amount_cents = 1 WHERE entry_id = :e",
                    "DELETE FROM journal_entry WHERE id = :e",
                    "UPDATE audit_event SET actor = 'x' WHERE seq = 1",
                    "DELETE FROM audit_event WHERE seq = :e"):
            with pytest.raises(sa.exc.DBAPIError, match="never changed"), db.session.begin_nested():
                db.session.execute(sa.text(sql), {"e": entry_id})
        assert _postings(entry_id)[0].amount_cents == 50_000
    else:
        db.session.execute(sa.text("UPDATE posting SET amount_cents = 1 WHERE entry_id = :e"),
                           {"e": entry_id})
        db.session.commit()
        assert _verify(runner).exit_code == 1


def test_entries_posted_before_seals_are_sealed_by_the_upgrade(books, runner):
    _post()
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    old = db.session.execute(sa.insert(JournalEntry).values(
        entry_date=date(2025, 1, 5), memo="old", source=EntrySource.ADJUSTMENT,
    ).returning(JournalEntry.id)).scalar_one()
    db.session.execute(sa.insert(Posting), [
        {"entry_id": old, "account_id": cash, "side": Side.DEBIT, "amount_cents": 700},
        {"entry_id": old, "account_id": income, "side": Side.CREDIT, "amount_cents": 700}])
    journal.rebuild_month_totals()
    db.session.commit()
    result = _verify(runner)
    assert result.exit_code == 1 and f"entry {old} has no seal" in result.output
    assert journal.seal_unsealed_entries(db.session.connection()) == 1
    db.session.commit()
    assert journal.seal_unsealed_entries(db.session.connection()) == 0
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    seal = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_id == str(old),
                                                         AuditEvent.action == "seal"))
    assert json.loads(seal.after)["postings"] == 2 and seal.actor == "upgrade"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountMonthTotal)) > 0


def test_the_audit_page_verifies_from_the_last_checkpoint_and_on_request(app, web, people):
    web.login("auditor")
    page = web.get("/audit").get_data(as_text=True)
    assert "No full verification has been run yet." in page
    with app.app_context():
        value = make_checkpoint().value
        db.session.commit()
    page = web.get("/audit").get_data(as_text=True)
    assert "intact since the last checkpoint" in page and value in page
    web.post("/audit/verify", {})
    page = web.get("/audit").get_data(as_text=True)
    assert "everything matched" in page
    with app.app_context():
        tamper("UPDATE account_month_total SET debit_cents = debit_cents + 1")
        db.session.execute(sa.insert(AccountMonthTotal).values(
            account_id=accounts.account("cash").id, month=date(2025, 2, 1),
            debit_cents=1, credit_cents=0))
        db.session.commit()
    web.post("/audit/verify", {})
    page = web.get("/audit").get_data(as_text=True)
    assert "FAILED" in page and "month totals of account" in page


def test_verify_everything_needs_the_form_token_and_the_role(app, client, web, people):
    web.login("auditor")
    assert client.post("/audit/verify").status_code in (302, 303, 400)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))
                                 .where(AuditEvent.action == "verify")) == 0
    web.logout()
    web.login("treasurer")
    assert web.post("/audit/verify", {}).status_code == 403


def test_the_month_close_and_the_auditor_pack_print_a_checkpoint(books, runner, tmp_path):
    import io
    import zipfile

    from association.ledger.auditor_pack import auditor_pack
    from association.ledger.periods import close_label, close_month
    from association.ledger.reports import Period

    _post()
    closed = close_month(date(2025, 2, 1), None)
    db.session.commit()
    row = db.session.scalar(sa.select(AuditCheckpoint).where(
        AuditCheckpoint.label == close_label(closed)))
    assert row.why == "month_close" and parse_marks(row.value)[0].signed()
    target = io.BytesIO()
    auditor_pack(Period(date(2025, 2, 1), date(2025, 2, 28)), "auditor", target)
    manifest = zipfile.ZipFile(target).read("MANIFEST.txt").decode()
    assert "Audit checkpoint" in manifest and parse_marks(manifest)
    saved = tmp_path / "MANIFEST.txt"
    saved.write_text(manifest)
    assert _verify(runner, "--checkpoint", str(saved)).exit_code == 0


def test_the_periods_page_shows_the_checkpoint_of_each_close(app, web, people):
    from association.core.time import add_months, month_start, today_in_nairobi

    last_month = add_months(month_start(today_in_nairobi()), -1)
    web.login("treasurer")
    page = web.post("/ledger/periods/close", {"month": last_month.strftime("%Y-%m")},
                    follow_redirects=True).get_data(as_text=True)
    assert "is closed" in page
    page = web.get("/ledger/periods").get_data(as_text=True)
    marks = parse_marks(page)
    assert len(marks) == 1 and "Audit checkpoint at the close" in page
    with app.app_context():
        assert marks[0].signed()
