"""The audit trail records every write, and its SHA-256 chain shows any change by hand."""

import json
import threading

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as, verify_chain
from association.auth.models import Role
from association.auth.services import create_user
from association.extensions import db
from association.members.models import Member
from association.members.services import update_member
from tests.audit.tamper import tamper
from tests.conftest import member_data


def _events(object_type=None):
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(stmt))


def test_create_and_update_are_recorded_with_before_and_after(app, make_member):
    member_id, _ = make_member(first_name="Halima")
    with app.app_context(), acting_as("secretary-test", user_id=None):
        member = db.session.get(Member, member_id)
        data = member_data(member.zone_id, first_name="Halima", other_names="Abdi",
                           phone=member.phone)
        update_member(member, data)
        db.session.commit()
        created = [e for e in _events("member") if e.action == "create"][0]
        assert json.loads(created.after)["first_name"] == "Halima"
        assert created.before is None
        updated = [e for e in _events("member") if e.action == "update"][-1]
        assert json.loads(updated.before)["other_names"] == "Wanjiku"
        assert json.loads(updated.after)["other_names"] == "Abdi"
        assert updated.actor == "secretary-test"
        assert updated.object_id == str(member_id)
        assert verify_chain().ok


def test_password_hashes_never_reach_the_trail(app, setup_association):
    with app.app_context():
        text = " ".join((e.after or "") + (e.before or "") for e in _events("user"))
        assert "argon2" not in text
        assert "<redacted>" in text


def test_web_writes_name_the_logged_in_user(app, web, setup_association):
    web.login("chair")
    web.post("/zones", {"name": "Gitathuru", "description": ""})
    with app.app_context():
        event = _events("zone")[-1]
        assert event.actor == "chair"
        assert event.actor_id is not None
        assert json.loads(event.after)["name"] == "Gitathuru"


def test_verify_passes_then_fails_after_a_raw_sql_change(app, runner, make_member):
    make_member()
    with app.app_context():
        total = len(_events())  # before verify records its own result
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        target = _events("member")[0]
        seq = target.seq
        tamper("UPDATE audit_event SET after = :a WHERE id = :i",
               a=target.after.replace("Amina", "Mallory"), i=target.id)
    assert f"{total} events checked" in result.output
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code != 0
    assert f"event {seq}" in broken.output


def test_verify_fails_when_a_row_is_deleted(app, runner, make_member):
    make_member()
    make_member(first_name="Zawadi")
    with app.app_context():
        middle = _events()[3]
        seq = middle.seq
        tamper("DELETE FROM audit_event WHERE id = :i", i=middle.id)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"event {seq}" in result.output


def test_verify_fails_when_the_newest_rows_are_deleted(app, runner, make_member):
    make_member()
    with app.app_context():
        last = _events()[-1]
        tamper("DELETE FROM audit_event WHERE id = :i", i=last.id)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert "removed" in result.output


def test_a_rolled_back_write_leaves_no_event(app, setup_association):
    with app.app_context():
        before = len(_events())
        create_user("ghost", "Ghost", "a-long-passphrase", {Role.AUDITOR})
        db.session.rollback()
        assert len(_events()) == before
        assert verify_chain().ok


@pytest.mark.committed(reason="threads with connections of their own wait for each other's "
                              "commits: the database's locking is what is tested")
def test_concurrent_writers_keep_one_unbroken_chain(app, setup_association):
    """Writers in parallel threads, each with its own connection, append in turn."""
    errors = []

    def write(n):
        with app.app_context(), acting_as(f"thread-{n}"):
            try:
                for i in range(5):
                    create_user(f"user{n}x{i}", "Parallel", "a-long-passphrase", {Role.AUDITOR})
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        result = verify_chain()
        assert result.ok, result.reason
        seqs = [e.seq for e in _events()]
        assert seqs == list(range(1, len(seqs) + 1))


def test_auditor_page_shows_the_result(app, web, people):
    web.login("auditor")
    page = web.get("/audit").get_data(as_text=True)
    assert "events checked" in page
    with app.app_context():
        tamper("UPDATE audit_event SET actor = 'someone' WHERE seq = 2")
    page = web.get("/audit").get_data(as_text=True)
    assert "BROKEN at event 2" in page


def test_auditor_page_masks_id_numbers(app, web, people):
    web.login("auditor")
    page = web.get("/audit?type=member").get_data(as_text=True)
    assert "23456789" not in page
    web.logout()
    web.login("chair")
    assert "23456789" in web.get("/audit?type=member").get_data(as_text=True)


def test_logins_and_language_choices_name_the_user(app, web, setup_association):
    web.login_with_password("chair")
    web.post("/language", {"language": "sw"})
    with app.app_context():
        events = [e for e in _events("user") if e.action == "update"]
        assert [e.actor for e in events[-2:]] == ["chair", "chair"]
        assert "last_login_at" in events[-2].after and "language" in events[-1].after


def test_every_kind_of_column_value_is_recorded_as_plain_json():
    from datetime import date, datetime, time

    from association.audit.services import _plain
    from association.ledger.models import Side

    assert _plain(time(19, 30)) == "19:30:00"
    assert _plain(date(2026, 11, 21)) == "2026-11-21"
    assert _plain(datetime(2026, 11, 21, 6, 0)) == "2026-11-21T06:00:00"
    assert _plain(Side.DEBIT) == "debit"
    assert _plain(b"x").startswith("sha256:")


def test_a_large_batch_of_events_keeps_the_chain(app, setup_association):
    """A batch as large as a dues run's (on PostgreSQL written by COPY) chains like any write."""
    from association.audit.services import COPY_FROM, current_actor, write_events

    with app.app_context(), acting_as("bulk-test"):
        before = len(_events())
        events = [("create", "thing", str(n), None, {"n": n, "name": f"Wanjirũ {n}\t\"x\"\\"},
                   *current_actor())
                  for n in range(COPY_FROM + 5)]
        write_events(db.session.connection(), events)
        db.session.commit()
        written = _events("thing")
        assert len(_events()) == before + COPY_FROM + 5
        assert [json.loads(e.after)["n"] for e in written] == list(range(COPY_FROM + 5))
        assert json.loads(written[3].after)["name"] == "Wanjirũ 3\t\"x\"\\"
        assert {e.actor for e in written} == {"bulk-test"}
        assert verify_chain().ok


def test_events_are_chained_at_the_commit_and_a_rolled_back_savepoint_takes_its_own(
        app, setup_association):
    """Events wait for the commit: a savepoint rolled back drops the events of its writes
    only; a released one keeps them; each event keeps the actor of the moment it was
    written; the whole transaction moves the chain's head once."""
    from association.audit.models import AuditHead

    head_writes = []

    def count(conn, cursor, statement, *args):
        if "UPDATE audit_head" in statement:  # on PostgreSQL the new hash comes with the events
            head_writes.append(statement)

    with app.app_context():
        before = len(_events())
        seq_before = db.session.scalar(sa.select(AuditHead.seq))
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            with acting_as("first"):
                create_user("kept1", "Kept One", "a-long-passphrase", {Role.AUDITOR})
            savepoint = db.session.begin_nested()
            with acting_as("undone"):
                create_user("undone", "Undone", "a-long-passphrase", {Role.AUDITOR})
            savepoint.rollback()
            with db.session.begin_nested(), acting_as("second"):
                create_user("kept2", "Kept Two", "a-long-passphrase", {Role.AUDITOR})
            assert len(_events()) == before  # nothing is chained before the commit
            db.session.commit()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        created = [e for e in _events("user") if e.action == "create"]
        names = [json.loads(e.after)["username"] for e in created]
        assert "undone" not in names
        assert names[-2:] == ["kept1", "kept2"]
        assert [e.actor for e in created[-2:]] == ["first", "second"]
        assert db.session.scalar(sa.select(AuditHead.seq)) == seq_before + len(_events()) - before
        assert len(head_writes) == 2  # one reservation and one new hash for the transaction
        assert verify_chain().ok


def test_a_batch_insert_keeps_its_rows_in_order_and_never_cuts_a_value(app, setup_association):
    """insert_audited: the ids come back in the order of the rows (on PostgreSQL the rows
    travel as one array a column), each row is audited with its id, and a value too long
    for its column is refused (PostgreSQL) or kept whole (SQLite), never cut."""
    from association.audit.services import insert_audited
    from association.core.time import utcnow
    from association.mpesa.models import CallbackInbox, CallbackKind

    def inbox_row(**values):
        return {"kind": CallbackKind.C2B_CONFIRMATION, "raw_body": b"{}", "remote_addr": None,
                "received_at": utcnow(), "key": None, "attempts": 0, "processed_at": None,
                "outcome": None, "error": None, **values}

    with app.app_context(), acting_as("batch-test"):
        ids = insert_audited(CallbackInbox, [inbox_row(key=f"K{n:03d}") for n in range(30)])
        [alone] = insert_audited(CallbackInbox, [inbox_row(key="ALONE")])
        db.session.commit()
        assert ids == sorted(ids) and alone > ids[-1]
        stored = dict(db.session.execute(sa.select(CallbackInbox.id, CallbackInbox.key)).all())
        assert [stored[i] for i in ids] == [f"K{n:03d}" for n in range(30)]
        audited = {e.object_id: json.loads(e.after) for e in _events("mpesa_callback_inbox")}
        assert [audited[str(i)]["key"] for i in ids] == [f"K{n:03d}" for n in range(30)]
        assert audited[str(alone)]["kind"] == "c2b_confirmation"
        assert verify_chain().ok

        too_long = "X" * 61  # the key column holds 60
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.DataError):
                insert_audited(CallbackInbox, [inbox_row(key=too_long), inbox_row()])
            db.session.rollback()
        else:
            [kept, _] = insert_audited(CallbackInbox, [inbox_row(key=too_long), inbox_row()])
            db.session.commit()
            assert db.session.get(CallbackInbox, kept).key == too_long
        assert verify_chain().ok
