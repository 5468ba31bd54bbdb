"""Every audit event carries a MAC with the checkpoint key, and checkpoints are kept
(issue 20 item 1, the security review of the tamper-evident books): before, someone with
write access to the database could append a made-up entry with its seal hashed with the
app's own SHA-256, or rewrite the events after the last checkpoint, and verify said
"intact"; and a checkpoint could be deleted or an older one put back."""

import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from association.audit.checkpoints import (
    REFUSED,
    Mark,
    TrailBroken,
    checkpoint_mac,
    daily_checkpoint,
    digest_matches,
    keyed_mac,
    keyed_start,
    make_checkpoint,
    start_keyed_chain,
)
from association.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from association.audit.services import (
    _content,
    acting_as,
    canonical_json,
    current_actor,
    event_hash,
    write_events,
)
from association.audit.verification import verify_since_last_checkpoint
from association.extensions import db
from association.ledger import accounts, journal
from association.ledger.journal import Line
from association.ledger.models import EntrySource, Posting, Side
from tests.audit.tamper import owner_rights, restore_mac_check, rewrite_chain_from, tamper
from tests.conftest import standalone_app

ROOT = Path(__file__).resolve().parents[2]


def _post(amount=50_000):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry = journal.post_entry(date(2025, 2, 3), "Gift", EntrySource.ADJUSTMENT,
                               [Line(cash, Side.DEBIT, amount), Line(income, Side.CREDIT, amount)])
    db.session.commit()
    return entry.id


def _verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def _problems(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


def test_events_carry_a_mac_made_with_the_checkpoint_key(books, app):
    _post()
    events = db.session.scalars(sa.select(AuditEvent)).all()
    assert events and all(re.fullmatch(r"[0-9a-f]{64}", e.mac) for e in events)
    keyed = db.session.scalars(sa.select(AuditCheckpoint)
                               .where(AuditCheckpoint.why == "keyed")).all()
    assert [(c.seq, c.chain_hash) for c in keyed] == [(0, "0" * 64)]  # the chain's start


def test_an_entry_forged_with_plain_sha256_is_caught(books, runner):
    """A made-up entry, postings, month totals and a seal event chained after the head with
    the app's own SHA-256, the head moved: everything matches but the event's MAC."""
    _post()
    entry_id, seq = _forge_entry()

    result = _verify(runner)
    assert result.exit_code == 1
    # The forgery is perfect but for the key: the chain, the seal and the totals agree;
    # the chain names the unkeyed event, and the books do not trust its seal (F2 b).
    assert _problems(result) == [
        f"Audit trail BROKEN at event {seq}: event {seq} has no MAC: it was "
        f"added or changed without the key",
        f"Journal entry {entry_id}: entry {entry_id}'s seal (audit event {seq}) "
        f"carries no valid MAC: it was added or changed without the key"]


def test_a_tail_rewritten_after_the_last_checkpoint_is_caught(books, runner):
    _post()
    make_checkpoint()
    db.session.commit()
    _post(2_000)
    target = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.action == "seal")
                               .order_by(AuditEvent.seq.desc()).limit(1))
    rewrite_chain_from(target, "mallory")
    quick = verify_since_last_checkpoint().chain  # the /audit page's check
    assert not quick.ok and quick.bad_seq == target
    assert quick.reason == f"event {target} has a wrong MAC: it was added or changed without " \
                           f"the key"
    result = _verify(runner)
    assert result.exit_code == 1 and f"BROKEN at event {target}: event {target} has a " \
                                      f"wrong MAC" in result.output


def test_the_audit_page_shows_an_event_added_without_the_key(app, web, people):
    with app.app_context():
        last = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        tamper("UPDATE audit_event SET mac = NULL WHERE seq = :s", s=last)
    web.login("auditor")
    page = web.get("/audit").get_data(as_text=True)
    assert f"BROKEN at event {last}" in page and "added or changed without the key" in page


def test_macs_stripped_and_checkpoints_deleted_are_caught(books, runner):
    _post()
    make_checkpoint()
    db.session.commit()
    tamper("UPDATE audit_event SET mac = NULL")
    result = _verify(runner)
    assert result.exit_code == 1 and "BROKEN at event 1: event 1 has no MAC" in result.output

    # The keyed checkpoint gone too (on PostgreSQL, only the owner with the triggers off).
    tamper("DELETE FROM audit_checkpoint WHERE why = 'keyed'")
    result = _verify(runner)
    assert result.exit_code == 1
    assert "the checkpoint where the events start carrying a MAC is missing" in result.output
    tamper("DELETE FROM audit_checkpoint")
    result = _verify(runner)
    assert result.exit_code == 1 and "there is no checkpoint at all" in result.output


def test_a_forged_keyed_checkpoint_does_not_count(books, runner):
    _post()
    tamper("UPDATE audit_checkpoint SET mac = :m WHERE why = 'keyed'", m="0" * 64)
    result = _verify(runner)
    assert result.exit_code == 1
    assert "does not carry this installation's signature" in result.output
    assert "is missing or forged" in result.output


def test_events_keyed_with_another_key_are_caught(books, runner, app):
    _post()
    key = app.config.get("AUDIT_CHECKPOINT_KEY")
    app.config["AUDIT_CHECKPOINT_KEY"] = "someone-elses-key-" + "y" * 32
    first_forged = db.session.scalar(sa.select(AuditHead.seq)) + 1
    _post(1_000)
    app.config["AUDIT_CHECKPOINT_KEY"] = key
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"event {first_forged} has a wrong MAC" in result.output


def test_events_before_the_keyed_checkpoint_need_no_mac(books, runner):
    """As after the upgrade 9c6e7f3a2b16: the events written before it carry no MAC; it
    signed the head, and every event after it must carry one."""
    tamper("DELETE FROM audit_checkpoint")  # as before the upgrade: no MACs, none keyed
    tamper("UPDATE audit_event SET mac = NULL")
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    start_keyed_chain(db.session.connection(), head.seq, head.hash)
    db.session.commit()
    _post()
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    tamper("UPDATE audit_event SET mac = NULL WHERE seq = :s", s=head.seq + 1)
    result = _verify(runner)
    assert result.exit_code == 1 and f"event {head.seq + 1} has no MAC" in result.output


def test_a_checkpoint_put_back_in_place_of_a_newer_one_is_caught(books, runner):
    _post()
    older = make_checkpoint()
    db.session.commit()
    _post(2_000)
    make_checkpoint()
    db.session.commit()
    _post(3_000)
    newer = make_checkpoint()
    db.session.commit()
    assert _verify(runner).exit_code == 0
    if db.engine.dialect.name == "postgresql":  # the app's role cannot
        for sql in ("UPDATE audit_checkpoint SET seq = 1 WHERE id = :i",
                    "DELETE FROM audit_checkpoint WHERE id = :i"):
            with pytest.raises(sa.exc.DBAPIError, match="never changed"), \
                    db.session.begin_nested():
                db.session.execute(sa.text(sql), {"i": newer.id})
        db.session.rollback()
    seq, chain_hash, mac = older.seq, older.chain_hash, older.mac
    tamper("UPDATE audit_checkpoint SET seq = :s, chain_hash = :h, mac = :m WHERE id = :i",
           s=seq, h=chain_hash, m=mac, i=newer.id)
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"A checkpoint at event {seq} was made after one at event" in result.output
    assert "an older checkpoint was put back" in result.output


def test_the_readme_grants_are_the_ones_the_commands_give(app):
    """`hosting grants` gives each association's schema what the README shows (no UPDATE or
    DELETE on the checkpoints either), and the deploy smoke applies them; the two must not
    drift."""
    from association.hosting.grants import schema_grants

    readme = (ROOT / "README.md").read_text()
    assert all(line in readme for line in schema_grants("association_mlk", "association_app"))
    assert ('REVOKE UPDATE, DELETE ON "association_mlk".journal_entry, "association_mlk".posting, '
            '"association_mlk".audit_event, "association_mlk".audit_checkpoint FROM '
            'association_app;') in schema_grants("association_mlk", "association_app")
    script = (ROOT / "deploy/smoke/run.sh").read_text()
    assert "hosting grants association_app --apply" in script


def test_the_upgrade_keys_the_chain_from_its_head(tmp_path):
    """Migration 9c6e7f3a2b16 on a trail written before it: a signed keyed checkpoint at
    the head, the old events verify without MACs and the new ones carry one."""
    from flask_migrate import downgrade, upgrade

    app = standalone_app(tmp_path)
    with app.app_context(), acting_as("upgrade-test"):
        try:
            upgrade(revision="4d1b00c5e7a1")
            conn = db.session.connection()
            write_events(conn, [("create", "thing", str(n), None, {"n": n}, *current_actor())
                                for n in range(4)], keyed=False)
            db.session.commit()
            upgrade()
            head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
            keyed = db.session.execute(sa.select(AuditCheckpoint.seq, AuditCheckpoint.chain_hash)
                                       .where(AuditCheckpoint.why == "keyed")).all()
            assert [tuple(k) for k in keyed] == [(head.seq, head.hash)] and head.seq >= 4
            write_events(db.session.connection(), [("create", "thing", "new", None, {},
                                                    *current_actor())])
            db.session.commit()
            from association.audit.services import verify_chain

            assert verify_chain().ok
            assert db.session.scalar(sa.select(AuditEvent.mac)
                                     .where(AuditEvent.seq == head.seq + 1)) is not None

            # Down and up again: the events written meanwhile carry no MAC, and the new
            # keyed checkpoint starts after them.
            db.session.commit()
            downgrade(revision="4d1b00c5e7a1")
            write_events(db.session.connection(), [("create", "thing", "down", None, {},
                                                    *current_actor())], keyed=False)
            db.session.commit()
            upgrade()
            write_events(db.session.connection(), [("create", "thing", "up", None, {},
                                                    *current_actor())])
            db.session.commit()
            assert verify_chain().ok
            # The downgrade dropped the column: only the event since carries a MAC.
            assert db.session.scalar(sa.select(sa.func.count(AuditEvent.mac))) == 1
        finally:
            db.session.remove()
            db.engine.dispose()


# --- The second security review (issue 20 item 1) -------------------------------------


def _checkpoint_rows(why: str | None = None) -> list:
    stmt = sa.select(AuditCheckpoint).order_by(AuditCheckpoint.id)
    if why is not None:
        stmt = stmt.where(AuditCheckpoint.why == why)
    return list(db.session.scalars(stmt))


def _strip_macs_and_rewrite(seq: int) -> None:
    """The review's poc3: event ``seq`` and every later hash rewritten, every MAC stripped,
    the keyed checkpoint deleted (the database owner's rights, no key)."""
    rewrite_chain_from(seq, "mallory")
    tamper("UPDATE audit_event SET mac = NULL")
    tamper("DELETE FROM audit_checkpoint WHERE why = 'keyed'")


def test_a_rewritten_tail_is_not_passed_by_a_checkpoint_relabelled_keyed(books, runner):
    """F1 a (poc3): a copy of a signed checkpoint inserted with why='keyed' became where
    the MACs start, so the rewritten, MAC-less tail before it passed verify."""
    _post()
    external = make_checkpoint()  # the copy printed and kept on paper
    db.session.commit()
    value = external.value
    _post(2_000)
    target = external.seq + 2
    _strip_macs_and_rewrite(target)
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    signed_at_head = Mark(head.seq, head.hash, checkpoint_mac(head.seq, head.hash))
    # What the app signed over the rewritten head (before F1 b, the worker did), copied
    # as 'keyed'; the app then goes on writing events with MACs on top.
    tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why) "
           "VALUES (:s, :h, :m, :t, 'day')", s=head.seq, h=head.hash, m=signed_at_head.mac,
           t=datetime(2026, 12, 8))
    tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why) "
           "VALUES (:s, :h, :m, :t, 'keyed')", s=head.seq, h=head.hash, m=signed_at_head.mac,
           t=datetime(2026, 12, 8))
    _post(3_000)

    assert keyed_start() is None  # the copy is not signed as a keyed start
    result = _verify(runner, "--checkpoint", value)
    assert result.exit_code == 1
    assert f"Checkpoint at event {head.seq} does not carry this installation's signature" \
        in result.output
    assert "BROKEN at event" in result.output
    assert not verify_since_last_checkpoint().chain.ok


def test_the_keyed_start_has_its_own_mac(books):
    keyed = _checkpoint_rows("keyed")
    assert [row.mac for row in keyed] == [keyed_mac(0, "0" * 64)]
    assert keyed_mac(0, "0" * 64) != checkpoint_mac(0, "0" * 64)
    assert keyed_start() == 0


def _remove_tail_after_a_checkpoint() -> int:
    """Two events deleted after a stored checkpoint and the head moved back: the chain
    left is whole and keyed, but no longer passes through the checkpoint."""
    _post()
    _post(2_000)
    checkpoint = make_checkpoint()
    db.session.commit()
    keep = checkpoint.seq - 2
    kept = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == keep))
    tamper("DELETE FROM audit_event WHERE seq > :s", s=keep)
    tamper("UPDATE audit_head SET seq = :s, hash = :h", s=keep, h=kept)
    return keep


def test_the_app_does_not_sign_a_head_the_chain_does_not_reach(books, runner):
    """F1 b: make_checkpoint (``flask audit checkpoint``) signed whatever head the database
    held; now it checks the chain from the last signed checkpoint first."""
    keep = _remove_tail_after_a_checkpoint()
    before = len(_checkpoint_rows())
    with pytest.raises(TrailBroken, match="removed|not the one"):
        make_checkpoint()
    db.session.rollback()
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "not signed: the audit trail failed its check" in result.output
    assert "AC1-" not in result.output
    assert len(_checkpoint_rows()) == before
    assert not any(row.seq == keep for row in _checkpoint_rows("manual"))


def test_the_daily_checkpoint_is_refused_and_says_so(books, caplog):
    """F1 b: the worker's daily step logs an error and writes "checkpoint refused"."""
    from association.audit import worker

    _remove_tail_after_a_checkpoint()
    worker._made.clear()
    with pytest.raises(TrailBroken):
        daily_checkpoint(date(2026, 12, 9))
    db.session.rollback()
    worker.checkpoint_step()
    assert _checkpoint_rows("day") == []
    assert "daily audit checkpoint refused" in caplog.text
    refused = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == REFUSED[0], AuditEvent.object_type == REFUSED[1])).all()
    assert len(refused) == 1
    assert "not the one the checkpoint signed" in json.loads(refused[0].after)["reason"]
    worker.checkpoint_step()  # once a day a process, not five times a second
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == REFUSED[0])) == 1


def test_the_auditors_pack_signs_no_head_the_chain_does_not_reach(app, web, people):
    """F1 b: the manifest's checkpoint was signed over a chain checked without the stored
    checkpoints: a deleted tail with the head moved back got a signature."""
    with app.app_context(), acting_as("test"):
        make_checkpoint()
        db.session.commit()
        last = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        tamper("DELETE FROM audit_event WHERE seq = :s", s=last)
        kept = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == last - 1))
        tamper("UPDATE audit_head SET seq = :s, hash = :h", s=last - 1, h=kept)
    web.login("chair")
    response = web.get("/reports/auditor-pack")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = archive.read("MANIFEST.txt").decode("utf-8")
    assert "Audit trail chain: BROKEN" in manifest
    assert "Audit checkpoint: none, the audit trail failed its check" in manifest
    assert "AC1-" not in manifest


def test_new_events_without_a_mac_are_refused_on_postgresql(books, runner):
    """F2 a: an old app process still running during the upgrade writes no MAC; on
    PostgreSQL the table refuses it (new rows only), everywhere verify names it."""
    _post()
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    conn = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        import psycopg

        # One event goes by INSERT (SQLAlchemy's error), a batch by COPY (the driver's).
        with pytest.raises((sa.exc.IntegrityError, psycopg.errors.CheckViolation),
                           match="audit_event_mac_required"), db.session.begin_nested():
            write_events(db.session.connection(),
                         [("create", "thing", "old", None, {}, *current_actor())], keyed=False)
        db.session.rollback()
        assert db.session.scalar(sa.select(AuditHead.seq)) == head.seq
        # The events from before the keyed upgrade carry none and stay valid (NOT VALID).
        assert db.session.scalar(sa.text(
            "SELECT convalidated FROM pg_constraint "
            "WHERE conname = 'audit_event_mac_required'")) is False
    else:
        write_events(conn, [("create", "thing", "old", None, {}, *current_actor())],
                     keyed=False)
        db.session.commit()
        result = _verify(runner)
        assert result.exit_code == 1 and f"event {head.seq + 1} has no MAC" in result.output


def _forge_entry() -> tuple[int, int]:
    """An entry, postings and a seal event with no MAC, chained with plain SHA-256."""
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    tamper("INSERT INTO journal_entry (entry_date, memo, source, posted_at) "
           "VALUES (:d, 'Gift', 'adjustment', :t)", d=date(2025, 2, 5), t="2025-02-05 06:00:00")
    entry = db.session.execute(sa.select(journal._ENTRIES.subquery())
                               .order_by(sa.text("id DESC")).limit(1)).one()
    for account, side in ((cash, "debit"), (income, "credit")):
        tamper("INSERT INTO posting (entry_id, account_id, side, amount_cents) "
               "VALUES (:e, :a, :s, 9900000)", e=entry.id, a=account, s=side)
    postings = db.session.execute(journal._POSTING_ROWS.where(Posting.entry_id == entry.id))
    seal = journal.seal_content(entry._mapping, [tuple(p)[1:] for p in postings])
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    row = {"seq": head.seq + 1, "occurred_at": db.session.scalar(sa.select(
        sa.func.max(AuditEvent.occurred_at))), "actor_id": None, "actor": "test",
        "action": journal.SEAL, "object_type": "journal_entry", "object_id": str(entry.id),
        "before": None, "after": canonical_json(seal), "prev_hash": head.hash}
    row["hash"] = event_hash(head.hash, _content(row))
    owner_rights()
    db.session.execute(sa.insert(AuditEvent.__table__).values(row))
    db.session.execute(sa.update(AuditHead).values(seq=row["seq"], hash=row["hash"]))
    journal.rebuild_month_totals()
    restore_mac_check()
    db.session.commit()
    return entry.id, row["seq"]


def test_a_seal_without_a_mac_is_not_trusted(books):
    """F2 b: verify_entries took any seal event at its word."""
    _post()
    entry_id, seq = _forge_entry()
    check = journal.verify_entries()
    assert not check.ok and check.entry_id == entry_id
    assert check.problem == (f"entry {entry_id}'s seal (audit event {seq}) carries no valid "
                             f"MAC: it was added or changed without the key")


def test_seals_before_the_keyed_start_need_no_mac(books):
    _post()
    tamper("DELETE FROM audit_checkpoint")
    tamper("UPDATE audit_event SET mac = NULL")
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    start_keyed_chain(db.session.connection(), head.seq, head.hash)
    db.session.commit()
    _post(2_000)
    check = journal.verify_entries()
    assert check.ok and check.checked == 2


def test_a_known_old_break_does_not_hide_new_ones(books, runner):
    """F2 c: the walk stopped at the first break; it still names it, and counts the events
    after it that fail too."""
    _post()
    _post(2_000)
    _post(3_000)
    last = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    tamper("UPDATE audit_event SET actor = 'old-break' WHERE seq = 2")
    result = _verify(runner)
    assert "BROKEN at event 2: event 2 was changed after it was written" in result.output
    assert "more events after event 2" not in result.output  # the break alone
    tamper("UPDATE audit_event SET actor = 'new' WHERE seq = :s", s=last - 1)
    tamper("UPDATE audit_event SET mac = :m WHERE seq = :s", m="1" * 64, s=last)
    result = _verify(runner)
    assert result.exit_code == 1
    assert "BROKEN at event 2: event 2 was changed after it was written" in result.output
    assert ("2 more events after event 2 fail their own check too (a hash, a link or a "
            "MAC): a known old break does not hide them.") in result.output
    from association.audit.services import verify_chain

    assert verify_chain().later_bad == 2


@pytest.mark.parametrize("column", ["checkpoint", "event"])
def test_a_mac_that_is_not_hex_is_reported_not_raised(books, runner, app, web, people,
                                                     column):
    """F4 (poc2): hmac.compare_digest raised TypeError on non-ASCII text: one row with
    mac='é'*64 made /audit answer 500 and verify crash."""
    _post()
    last = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    if column == "checkpoint":
        tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why) "
               "VALUES (0, :h, :m, :t, 'keyed')", h="0" * 64, m="\u00e9" * 64,
               t=datetime(2026, 1, 1))
        tamper("INSERT INTO audit_checkpoint (seq, chain_hash, mac, made_at, why) "
               "VALUES (:s, :h, :m, :t, 'manual')", s=last, m="\u00e9" * 64,
               h=db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == last)),
               t=datetime(2026, 1, 2))
    else:
        tamper("UPDATE audit_event SET mac = :m WHERE seq = :s", m="\u00e9" * 64, s=last)
    result = _verify(runner)
    assert result.exit_code == 1 and not isinstance(result.exception, TypeError)
    if column == "checkpoint":
        assert "does not carry this installation's signature" in result.output
        assert verify_since_last_checkpoint().checkpoint_forged
    else:
        assert f"event {last} has a wrong MAC" in result.output
    assert not digest_matches("\u00e9" * 64, "a" * 64)
    assert not digest_matches(None, "a" * 64) and not digest_matches("A" * 64, "A" * 64)
    db.session.rollback()
    web.login("auditor")
    response = web.get("/audit")
    assert response.status_code == 200


def test_the_upgrade_re_signs_the_keyed_start_only(tmp_path):
    """Migration b3c4d5e6f7a8: the keyed checkpoint written by 9c6e7f3a2b16 with the old
    construction is re-signed with its own; a copy relabelled 'keyed' before it is not;
    the downgrade signs it back."""
    from flask_migrate import downgrade, upgrade

    app = standalone_app(tmp_path)
    with app.app_context(), acting_as("upgrade-test"):
        try:
            upgrade(revision="9c6e7f3a2b16")
            write_events(db.session.connection(),
                         [("create", "thing", str(n), None, {"n": n}, *current_actor())
                          for n in range(3)])
            keyed = db.session.execute(sa.select(AuditCheckpoint.id, AuditCheckpoint.seq,
                                                 AuditCheckpoint.chain_hash)
                                       .order_by(AuditCheckpoint.id).limit(1)).one()
            old = checkpoint_mac(keyed.seq, keyed.chain_hash)
            # As the app before this fix wrote it, and an attacker's copy of a checkpoint.
            db.session.execute(sa.delete(AuditCheckpoint).where(AuditCheckpoint.id != keyed.id))
            db.session.execute(sa.update(AuditCheckpoint).values(mac=old))
            head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
            db.session.execute(sa.insert(AuditCheckpoint).values(
                seq=head.seq, chain_hash=head.hash, mac=checkpoint_mac(head.seq, head.hash),
                made_at=datetime(2026, 12, 8), why="keyed"))
            db.session.commit()
            upgrade()
            macs = db.session.execute(sa.select(AuditCheckpoint.seq, AuditCheckpoint.mac)
                                      .order_by(AuditCheckpoint.id)).all()
            assert [tuple(m) for m in macs] == [
                (keyed.seq, keyed_mac(keyed.seq, keyed.chain_hash)),
                (head.seq, checkpoint_mac(head.seq, head.hash))]
            assert keyed_start() == keyed.seq
            from association.audit.services import verify_chain

            assert verify_chain().ok
            db.session.commit()
            downgrade(revision="9c6e7f3a2b16")
            assert db.session.scalar(sa.select(AuditCheckpoint.mac).where(
                AuditCheckpoint.id == keyed.id)) == old
        finally:
            db.session.remove()
            db.engine.dispose()
