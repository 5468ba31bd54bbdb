"""Every audit event carries a MAC with the checkpoint key, and checkpoints are kept
(issue 20 item 1, the security review of the tamper-evident books): before, someone with
write access to the database could append a made-up entry with its seal hashed with the
app's own SHA-256, or rewrite the events after the last checkpoint, and verify said
"intact"; and a checkpoint could be deleted or an older one put back."""

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from association import create_app
from association.audit.checkpoints import make_checkpoint, start_keyed_chain
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
from config import TestingConfig
from tests.audit.tamper import owner_rights, restore_mac_check, tamper

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

    result = _verify(runner)
    assert result.exit_code == 1
    # The forgery is perfect but for the key: the chain, the seal and the totals agree;
    # the chain names the unkeyed event, and the books do not trust its seal (F2 b).
    assert _problems(result) == [
        f"Audit trail BROKEN at event {row['seq']}: event {row['seq']} has no MAC: it was "
        f"added or changed without the key",
        f"Journal entry {entry.id}: entry {entry.id}'s seal (audit event {row['seq']}) "
        f"carries no valid MAC: it was added or changed without the key"]


def _rewrite_from(seq: int, actor: str) -> None:
    """Change event ``seq`` and recompute every later hash and the head (not the MACs)."""
    rows = db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.seq >= seq - 1)
                              .order_by(AuditEvent.seq)).mappings().all()
    prev = rows[0]["hash"]
    owner_rights()
    for row in rows[1:]:
        row = dict(row)
        if row["seq"] == seq:
            row["actor"] = actor
        new = event_hash(prev, _content(row))
        db.session.execute(sa.text("UPDATE audit_event SET actor = :a, prev_hash = :p, "
                                   "hash = :h WHERE id = :i"),
                           {"a": row["actor"], "p": prev, "h": new, "i": row["id"]})
        prev = new
    db.session.execute(sa.text("UPDATE audit_head SET hash = :h"), {"h": prev})
    restore_mac_check()
    db.session.commit()


def test_a_tail_rewritten_after_the_last_checkpoint_is_caught(books, runner):
    _post()
    make_checkpoint()
    db.session.commit()
    _post(2_000)
    target = db.session.scalar(sa.select(AuditEvent.seq).where(AuditEvent.action == "seal")
                               .order_by(AuditEvent.seq.desc()).limit(1))
    _rewrite_from(target, "mallory")
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


def test_the_readme_grants_are_the_ones_the_deploy_smoke_runs():
    """Both revoke UPDATE and DELETE on the checkpoints too; the two must not drift."""
    script = (ROOT / "deploy/smoke/run.sh").read_text()
    grants = script.split('README_GRANTS = """', 1)[1].split('"""', 1)[0].strip().splitlines()
    readme = (ROOT / "README.md").read_text()
    assert all(line in readme for line in grants)
    assert ("REVOKE UPDATE, DELETE ON journal_entry, posting, audit_event, audit_checkpoint "
            "FROM association_app;") in grants


def test_the_upgrade_keys_the_chain_from_its_head(tmp_path):
    """Migration 9c6e7f3a2b16 on a trail written before it: a signed keyed checkpoint at
    the head, the old events verify without MACs and the new ones carry one."""
    from flask_migrate import downgrade, upgrade

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI":
                                     f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"})
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
