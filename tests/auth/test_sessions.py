"""Sessions held on the server: logging out ends them, they time out, and their owner sees
and ends them on /account/sessions."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.auth.models import Role, User
from association.auth.sessions import UserSession
from association.core.time import utcnow
from association.extensions import db
from tests.conftest import PASSWORD, Web

PHONE_UA = ("Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36")


def _sessions(app, username):
    with app.app_context():
        return db.session.scalars(
            sa.select(UserSession).join(User).where(User.username == username)
            .order_by(UserSession.id)).all()


def _age(app, username, **fields):
    with app.app_context():
        for row in db.session.scalars(
                sa.select(UserSession).join(User).where(User.username == username)):
            for name, delta in fields.items():
                setattr(row, name, utcnow() - delta)
        db.session.commit()


def test_a_cookie_replayed_after_logout_is_refused(web, setup_association):
    web.login_with_password("chair")
    assert web.get("/members").status_code == 200
    copied = web.client.get_cookie("session").value
    web.logout()
    web.client.set_cookie("session", copied)
    response = web.get("/members")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_login_records_the_session_and_logout_ends_it(app, web, setup_association):
    web.client.environ_base["HTTP_USER_AGENT"] = PHONE_UA
    web.login_with_password("chair")
    [row] = _sessions(app, "chair")
    assert row.ended_at is None and row.device == "Android, Chrome"
    assert row.address == "127.0.0.1" and len(row.token_hash) == 64
    web.logout()
    [row] = _sessions(app, "chair")
    assert row.ended_at is not None


def test_officials_time_out_after_30_idle_minutes(app, web, setup_association):
    assert app.config["SESSION_IDLE_MINUTES_OFFICIALS"] == 30
    web.login_with_password("chair")
    _age(app, "chair", last_seen_at=timedelta(minutes=29))
    assert web.get("/members").status_code == 200
    _age(app, "chair", last_seen_at=timedelta(minutes=31))
    assert web.get("/members").status_code in (302, 303)


def test_members_have_their_own_idle_timeout(app, make_member, make_user):
    member_id, _ = make_member()
    make_user("member", Role.MEMBER, member_id=member_id)
    app.config["SESSION_IDLE_MINUTES_MEMBERS"] = 120
    member = Web(app.test_client())
    member.login_with_password("member")
    _age(app, "member", last_seen_at=timedelta(minutes=90))
    assert member.get("/account/sessions").status_code == 200
    _age(app, "member", last_seen_at=timedelta(minutes=121))
    assert member.get("/account/sessions").status_code in (302, 303)


def test_sessions_end_after_their_absolute_lifetime(app, web, setup_association):
    app.config["SESSION_MAX_HOURS"] = 12
    web.login_with_password("chair")
    _age(app, "chair", created_at=timedelta(hours=11, minutes=59))
    assert web.get("/members").status_code == 200
    _age(app, "chair", created_at=timedelta(hours=12, minutes=1))
    assert web.get("/members").status_code in (302, 303)


def test_last_seen_is_updated_at_most_once_a_minute(app, web, setup_association):
    web.login_with_password("chair")
    _age(app, "chair", last_seen_at=timedelta(minutes=5))
    web.get("/members")
    [row] = _sessions(app, "chair")
    assert utcnow() - row.last_seen_at < timedelta(seconds=10)
    _age(app, "chair", last_seen_at=timedelta(seconds=30))
    web.get("/members")
    [again] = _sessions(app, "chair")
    assert utcnow() - again.last_seen_at >= timedelta(seconds=29)


def test_a_get_writes_no_audit_event_for_last_seen(app, web, setup_association):
    web.login_with_password("chair")
    _age(app, "chair", last_seen_at=timedelta(minutes=5))
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    web.get("/")
    with app.app_context():
        after = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert after == before


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, web,
                                                                      setup_association):
    other = Web(app.test_client())
    other.login_with_password("chair")
    web.login_with_password("chair")
    response = web.post("/account/password", {"current": PASSWORD, "new": "a new long passphrase",
                                              "confirm": "a new long passphrase"})
    assert response.status_code in (302, 303)
    assert web.get("/members").status_code == 200
    assert other.get("/members").status_code in (302, 303)
    rows = _sessions(app, "chair")
    assert [r.ended_at is None for r in rows] == [False, False, True]


def test_deactivation_ends_every_session_row(app, web, make_user):
    make_user("auditor", Role.AUDITOR)
    auditor = Web(app.test_client())
    auditor.login_with_password("auditor")
    web.login_with_password("chair")
    with app.app_context():
        auditor_id = db.session.scalar(sa.select(User.id).where(User.username == "auditor"))
    web.post(f"/users/{auditor_id}/active", {})
    assert all(r.ended_at is not None for r in _sessions(app, "auditor"))


def test_the_sessions_page_lists_mine_and_ends_one(app, web, make_user):
    make_user("auditor", Role.AUDITOR)
    auditor = Web(app.test_client())
    auditor.login_with_password("auditor")
    phone = Web(app.test_client())
    phone.client.environ_base["HTTP_USER_AGENT"] = PHONE_UA
    phone.login_with_password("chair")
    web.login_with_password("chair")
    assert "/account/sessions" in web.get("/account/password").get_data(as_text=True)
    page = web.get("/account/sessions").get_data(as_text=True)
    assert "Android, Chrome" in page and "This device" in page
    assert page.count('action="/account/sessions/') == 2  # the phone's, and "all others"
    phone_row = _sessions(app, "chair")[0]
    auditor_row = _sessions(app, "auditor")[0]
    # Someone else's session cannot be ended, nor seen.
    assert web.post(f"/account/sessions/{auditor_row.id}/end").status_code == 404
    assert auditor.get("/members").status_code == 200
    response = web.post(f"/account/sessions/{phone_row.id}/end", follow_redirects=True)
    assert "The session has been ended." in response.get_data(as_text=True)
    assert phone.get("/members").status_code in (302, 303)
    assert web.get("/members").status_code == 200
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "user_session", AuditEvent.action == "update")).all()
    assert event and "ended_at" in event[-1].after and "token_hash" not in event[-1].after


def test_ending_all_other_sessions(app, web, setup_association):
    others = [Web(app.test_client()) for _ in range(2)]
    for other in others:
        other.login_with_password("chair")
    web.login_with_password("chair")
    response = web.post("/account/sessions/end-others", follow_redirects=True)
    assert "Your other sessions have been ended." in response.get_data(as_text=True)
    assert all(o.get("/members").status_code in (302, 303) for o in others)
    assert web.get("/members").status_code == 200


def test_ending_a_session_needs_the_csrf_token(app, web, setup_association):
    web.login_with_password("chair")
    row = _sessions(app, "chair")[0]
    assert web.client.post(f"/account/sessions/{row.id}/end").status_code == 400
    assert web.client.post("/account/sessions/end-others").status_code == 400
    assert _sessions(app, "chair")[0].ended_at is None


@pytest.mark.parametrize("path", ["/account/sessions/999999/end", "/account/sessions/0/end"])
def test_ending_an_unknown_session_is_not_found(web, setup_association, path):
    web.login_with_password("chair")
    assert web.post(path).status_code == 404


def test_the_sessions_page_in_swahili(web, setup_association):
    web.login_with_password("chair")
    web.post("/language", {"language": "sw"})
    page = web.get("/account/sessions").get_data(as_text=True)
    assert "Vipindi vyako" in page and "Kifaa hiki" in page


def test_the_sessions_page_needs_a_login(client):
    response = client.get("/account/sessions")
    assert response.status_code in (302, 303)


def _ended_events(app):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "user_session", AuditEvent.action == "update")
            .order_by(AuditEvent.seq)).all()


@pytest.mark.parametrize("field,age", [("last_seen_at", timedelta(minutes=31)),
                                       ("created_at", timedelta(hours=13))])
def test_an_expired_session_found_by_the_loader_is_marked_ended(app, web, setup_association,
                                                                field, age):
    app.config["SESSION_MAX_HOURS"] = 12
    web.login_with_password("chair")
    _age(app, "chair", **{field: age})
    before = len(_ended_events(app))
    assert web.get("/members").status_code in (302, 303)
    [row] = _sessions(app, "chair")
    assert row.ended_at is not None and utcnow() - row.ended_at < timedelta(seconds=10)
    events = _ended_events(app)
    assert len(events) == before + 1  # in the trail, once, by no one's hand
    assert events[-1].actor == "system:sessions" and events[-1].object_id == str(row.id)
    assert "ended_at" in events[-1].after and "token_hash" not in events[-1].after
    # Found again: nothing more is written.
    assert web.get("/members").status_code in (302, 303)
    assert len(_ended_events(app)) == before + 1
    assert _sessions(app, "chair")[0].ended_at == row.ended_at
    # It is no longer listed, and another login opens a new row.
    web.login_with_password("chair")
    rows = _sessions(app, "chair")
    assert [r.ended_at is None for r in rows] == [False, True]


def test_a_live_session_is_not_marked_ended(app, web, setup_association):
    web.login_with_password("chair")
    _age(app, "chair", last_seen_at=timedelta(minutes=5))
    assert web.get("/members").status_code == 200
    assert _sessions(app, "chair")[0].ended_at is None


def _worker_sweeps(app, monkeypatch):
    """Run the worker's steps, as ``flask worker`` does, with the hourly sweep due."""
    from association.auth import sessions as sessions_module
    from association.worker import run_steps

    monkeypatch.setattr(sessions_module, "_swept_at", None)
    with app.app_context():
        return run_steps()


def test_the_worker_deletes_sessions_over_for_90_days(app, web, make_user, monkeypatch):
    make_user("auditor", Role.AUDITOR)
    for _ in range(4):
        Web(app.test_client()).login_with_password("chair")
    Web(app.test_client()).login_with_password("auditor")
    rows = _sessions(app, "chair")
    now = utcnow()
    with app.app_context():
        # ended 91 days ago: deleted; ended 89 days ago: kept; never marked ended but
        # opened 100 days ago (past its lifetime for 90 days): deleted; live: kept.
        for row, values in zip(rows, [
                {"ended_at": now - timedelta(days=91), "created_at": now - timedelta(days=92)},
                {"ended_at": now - timedelta(days=89), "created_at": now - timedelta(days=92)},
                {"created_at": now - timedelta(days=100),
                 "last_seen_at": now - timedelta(days=100)},
                {"last_seen_at": now}], strict=True):
            db.session.execute(sa.update(UserSession).where(UserSession.id == row.id)
                               .values(**values))
        db.session.commit()
    assert _worker_sweeps(app, monkeypatch) == 2
    kept = _sessions(app, "chair")
    assert [r.id for r in kept] == [rows[1].id, rows[3].id]
    assert len(_sessions(app, "auditor")) == 1
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "user_session", AuditEvent.action == "delete")).all()
    assert event.actor == "worker:sessions" and '"rows":2' in event.after
    # Nothing more to delete: nothing written; and the sweep waits an hour between runs.
    assert _worker_sweeps(app, monkeypatch) == 0
    with app.app_context():
        db.session.execute(sa.update(UserSession).where(UserSession.id == rows[1].id)
                           .values(ended_at=now - timedelta(days=95)))
        db.session.commit()
        from association.worker import run_steps

        assert run_steps() == 0  # swept less than an hour ago
    assert _worker_sweeps(app, monkeypatch) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.object_type == "user_session", AuditEvent.action == "delete")) == 2
