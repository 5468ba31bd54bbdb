"""A second factor at login (issue 20): the chair requires it per role; officials enrol an
authenticator app (TOTP) and get 10 single-use recovery codes; codes are checked, never
reused, rate limited; secrets and codes stay out of the audit trail and the logs."""

import base64
import re
import shutil
import subprocess
import threading
import time
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.auth import second_factor
from association.auth.models import RecoveryCode, Role, SecondFactor, SecondFactorRole, User
from association.core.time import utcnow
from association.extensions import db
from tests.conftest import PASSWORD, Web

CODE_RE = re.compile(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")
QR_RE = re.compile(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
SECRET_RE = re.compile(r"<code>([A-Z2-7 ]{16,})</code>")


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def _factor(app, username: str) -> SecondFactor | None:
    with app.app_context():
        return db.session.scalar(sa.select(SecondFactor).join(
            User, User.id == SecondFactor.user_id).where(User.username == username))


def _require(app, *roles: Role) -> None:
    with app.app_context():
        for role in roles:
            db.session.add(SecondFactorRole(role=role))
        db.session.commit()


def _wrong_code(secret: str) -> str:
    """A six-digit code that is none of the codes accepted now."""
    totp, now = pyotp.TOTP(secret), time.time()
    accepted = {totp.at(now + offset * 30) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def _next_code(secret: str) -> str:
    """The code of the next time step: accepted (valid_window=1) after enrolment's code."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _start(web: Web) -> str:
    """Start the set-up as the logged-in user (with their password); returns the secret the
    page shows."""
    web.post("/account/second-factor/start", {"password": PASSWORD})
    page = web.get("/account/second-factor").get_data(as_text=True)
    return SECRET_RE.search(page).group(1).replace(" ", "")


def _enrol(web: Web, username: str) -> tuple[str, list[str], object]:
    """Log in as ``username`` and turn the second factor on: (secret, recovery codes, the
    confirming response)."""
    web.login(username)
    secret = _start(web)
    response = web.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    codes = CODE_RE.findall(response.get_data(as_text=True))
    web.token = None
    return secret, codes, response


def _password_then(web: Web, username: str, code: str):
    """Log in with the password, then the code; the response to the code."""
    web.login_with_password(username)
    response = web.post("/login/code", {"code": code})
    web.token = None  # a login makes a fresh session, with a fresh CSRF token
    return response


def test_off_by_default_the_password_alone_logs_in(app, web, people):
    response = web.login_with_password("treasurer")
    assert response.headers["Location"] == "/"
    assert web.get("/ledger").status_code == 200


def test_a_required_official_is_sent_to_enrolment_before_anything(app, web, people):
    _require(app, Role.TREASURER)
    web.login_with_password("treasurer")
    for url in ("/", "/ledger", "/members"):
        response = web.get(url)
        assert response.headers["Location"].endswith("/account/second-factor"), url
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "requires officials in your role" in page
    # the secretary's role is not required: as before
    other = Web(app.test_client())
    other.login_with_password("secretary")
    assert other.get("/members").status_code == 200


def test_enrolment_shows_a_qr_code_and_the_secret_and_turns_on_with_a_first_code(
        app, web, people, tmp_path):
    web.login("treasurer")
    secret = _start(web)
    page = web.get("/account/second-factor").get_data(as_text=True)
    # The QR code (drawn by core.pdf's encoder) reads back as the authenticator's address.
    svg = base64.b64decode(QR_RE.search(page).group(1)).decode()
    found = _read_qr(svg, tmp_path)
    assert found.startswith("otpauth://totp/") and f"secret={secret}" in found
    assert "issuer=MLK" in found
    assert not _factor(app, "treasurer").confirmed_at  # not on before a right code
    response = web.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    codes = CODE_RE.findall(response.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert response.headers["Cache-Control"] == "private, no-store"
    assert web.get("/ledger").status_code == 200  # this session goes on
    factor = _factor(app, "treasurer")
    assert factor.confirmed_at is not None
    assert secret not in factor.secret  # encrypted at rest
    with app.app_context():
        assert second_factor._decrypt(factor.secret) == secret
        hashes = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(hashes) == 10 and not hashes & {c.replace("-", "") for c in codes}
    # shown once: the page now says it is on, without codes or secret
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "Recovery codes left: 10" in page
    assert not CODE_RE.search(page) and secret not in page


def _read_qr(svg: str, tmp_path) -> str:
    """Draw the SVG's squares as a PNG and read it with zbarimg (zbar-tools)."""
    size = int(re.search(r'width="(\d+)"', svg).group(1))
    image = Image.new("1", (size, size), 1)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)", svg):
        x, y, w = int(x), int(y), int(w)
        image.paste(0, (x, y, x + w, y + w))
    path = tmp_path / "qr.png"
    image.save(path)
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg is needed (zbar-tools)"
    return subprocess.run([zbarimg, "--raw", "-q", str(path)], capture_output=True,  # noqa: S603
                          text=True, check=True, timeout=60).stdout.strip()


def test_enrolment_with_a_wrong_first_code_stays_off(app, web, people):
    _require(app, Role.TREASURER)
    web.login("treasurer")
    secret = _start(web)
    response = web.post("/account/second-factor/confirm", {"code": _wrong_code(secret)},
                        follow_redirects=True)
    assert "That code is not right" in response.get_data(as_text=True)
    assert _factor(app, "treasurer").confirmed_at is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    for bad in ("", "12345", "abcdef", "1" * 41):
        web.post("/account/second-factor/confirm", {"code": bad})
        assert _factor(app, "treasurer").confirmed_at is None
    assert web.get("/ledger").headers["Location"].endswith("/account/second-factor")


def test_enrolling_ends_the_users_other_sessions(app, web, people):
    other = Web(app.test_client())
    other.login_with_password("treasurer")
    assert other.get("/ledger").status_code == 200
    _enrol(web, "treasurer")
    assert other.get("/ledger").status_code in (302, 303)
    assert web.get("/ledger").status_code == 200


def test_login_asks_for_the_code_after_the_password(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    response = web.login_with_password("treasurer")
    assert response.headers["Location"].endswith("/login/code")
    assert web.get("/ledger").status_code in (302, 303)  # not logged in yet
    assert "authenticator app" in web.get("/login/code").get_data(as_text=True)
    response = web.post("/login/code", {"code": _next_code(secret)})
    assert response.headers["Location"] == "/"
    assert web.get("/ledger").status_code == 200


def test_the_code_step_keeps_the_next_address(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    web.token = None
    web.post("/login?next=/ledger", {"login": "treasurer", "password": PASSWORD})
    web.token = None
    assert web.post("/login/code", {"code": _next_code(secret)}).headers["Location"] == "/ledger"


@pytest.mark.parametrize("code", ["", "12", "abcdefgh", "9" * 41, "wrong"])
def test_bad_codes_are_refused_with_a_message(app, web, people, code):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    response = _password_then(web, "treasurer", code or "")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert re.search(r"That code is not right|Enter the code|Field cannot be longer", text)
    assert web.get("/ledger").status_code in (302, 303)
    response = _password_then(web, "treasurer", _wrong_code(secret))
    assert "That code is not right" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)


def test_a_code_cannot_be_used_twice(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    code = _next_code(secret)
    assert _password_then(web, "treasurer", code).headers["Location"] == "/"
    web.logout()
    response = _password_then(web, "treasurer", code)
    assert "already used" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)
    # enrolment's own code cannot log in either
    web.logout()
    response = _password_then(web, "treasurer", pyotp.TOTP(secret).at(time.time() - 30))
    assert response.status_code == 200
    assert web.get("/ledger").status_code in (302, 303)


def test_a_recovery_code_works_once(app, web, people):
    _secret, codes, _ = _enrol(web, "treasurer")
    web.logout()
    typed = codes[3].upper().replace("-", " ")  # as read off paper
    assert _password_then(web, "treasurer", typed).headers["Location"] == "/"
    assert web.get("/ledger").status_code == 200
    web.logout()
    response = _password_then(web, "treasurer", codes[3])
    assert "recovery code was already used" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)
    assert _password_then(web, "treasurer", codes[4]).headers["Location"] == "/"
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "Recovery codes left: 8" in page


def test_an_expired_pending_login_starts_again(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    web.login_with_password("treasurer")
    with web.client.session_transaction() as session:
        pending = dict(session[second_factor.PENDING_KEY])
        pending["at"] -= app.config["SECOND_FACTOR_PENDING_SECONDS"] + 1
        session[second_factor.PENDING_KEY] = pending
    web.token = None
    response = web.post("/login/code", {"code": _next_code(secret)}, follow_redirects=True)
    assert "Too much time passed" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)
    # nothing pending any more: the code page sends back to the login
    assert web.get("/login/code").headers["Location"].endswith("/login")


def test_the_code_page_without_a_password_first_sends_to_login(client, people):
    assert client.get("/login/code").headers["Location"].endswith("/login")


def test_the_code_step_is_rate_limited_per_account(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    app.config["SECOND_FACTOR_RATE_LIMIT"] = "2 per 15 minutes"
    web.login_with_password("treasurer")
    for _ in range(2):
        assert web.post("/login/code", {"code": _wrong_code(secret)}).status_code == 200
    web.client.environ_base["REMOTE_ADDR"] = "10.9.0.7"  # another address, same account
    web.login_with_password("treasurer")
    response = web.post("/login/code", {"code": _next_code(secret)})
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)


def test_a_non_chair_cannot_change_the_policy(app, web, people):
    for username in ("treasurer", "secretary", "auditor", "member"):
        web.login(username)
        assert web.get("/users/second-factor").status_code == 403
        assert web.post("/users/second-factor", {"roles": ["treasurer"]}).status_code == 403
        web.logout()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SecondFactorRole)) == 0


def test_the_chair_chooses_the_roles(app, web, people):
    web.login("chair")
    page = web.get("/users/second-factor").get_data(as_text=True)
    assert 'value="treasurer"' in page and 'value="member"' not in page
    web.post("/users/second-factor", {"roles": ["treasurer", "auditor"]})
    with app.app_context():
        assert second_factor.required_roles() == {Role.TREASURER, Role.AUDITOR}
    bad = web.post("/users/second-factor", {"roles": ["member"]})
    assert "not a valid choice" in bad.get_data(as_text=True)
    with app.app_context():
        assert second_factor.required_roles() == {Role.TREASURER, Role.AUDITOR}  # unchanged
    web.post("/users/second-factor", {})
    with app.app_context():
        assert second_factor.required_roles() == set()


def test_the_chair_resets_another_officials_second_factor(app, web, people):
    treasurer = Web(app.test_client())
    _enrol(treasurer, "treasurer")
    assert treasurer.get("/ledger").status_code == 200
    treasurer_id, chair_id = _user_id(app, "treasurer"), _user_id(app, "chair")
    web.login("chair")
    assert "Reset the second factor" in web.get(f"/users/{treasurer_id}").get_data(as_text=True)
    response = web.post(f"/users/{treasurer_id}/second-factor/reset", follow_redirects=True)
    assert "is reset" in response.get_data(as_text=True)
    assert _factor(app, "treasurer") is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert treasurer.get("/ledger").status_code in (302, 303)  # logged out everywhere
    assert treasurer.login_with_password("treasurer").headers["Location"] == "/"  # no code
    # bad input: one's own, nobody's, none to reset, a non-chair
    own = web.post(f"/users/{chair_id}/second-factor/reset", follow_redirects=True)
    assert "Another chair must reset" in own.get_data(as_text=True)
    none = web.post(f"/users/{treasurer_id}/second-factor/reset", follow_redirects=True)
    assert "has no second factor to reset" in none.get_data(as_text=True)
    assert web.post("/users/99999/second-factor/reset").status_code == 404
    treasurer.token = None
    assert treasurer.post(f"/users/{chair_id}/second-factor/reset").status_code == 403


def test_secrets_and_codes_are_never_in_the_audit_trail_or_the_logs(app, web, people, caplog):
    caplog.set_level("DEBUG")
    secret, codes, _ = _enrol(web, "treasurer")
    web.logout()
    _password_then(web, "treasurer", codes[0])
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type.in_(["second_factor", "recovery_code"]))).all()
        trail = " ".join(f"{e.before} {e.after}" for e in events)
        stored = [second_factor._decrypt(f) for f in db.session.scalars(
            sa.select(SecondFactor.secret))]
        hashes = list(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    actions = {(e.object_type, e.action) for e in events}
    assert {("second_factor", "create"), ("second_factor", "update"),
            ("recovery_code", "create"), ("recovery_code", "update")} <= actions
    assert "<redacted>" in trail
    for text in (trail, caplog.text):
        assert secret not in text and stored[0] not in text
        assert not any(c in text or c.replace("-", "") in text for c in codes)
        assert not any(h in text for h in hashes)


def test_policy_changes_and_resets_are_audited(app, web, people):
    treasurer = Web(app.test_client())
    _enrol(treasurer, "treasurer")
    web.login("chair")
    web.post("/users/second-factor", {"roles": ["treasurer"]})
    web.post(f"/users/{_user_id(app, 'treasurer')}/second-factor/reset")
    with app.app_context():
        events = {(e.object_type, e.action, e.actor) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.actor == "chair"))}
    assert ("second_factor_role", "create", "chair") in events
    assert ("second_factor", "delete", "chair") in events
    assert ("recovery_code", "delete", "chair") in events


def test_messages_in_swahili(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    web.post("/language", {"language": "sw"})
    web.token = None
    response = _password_then(web, "treasurer", _wrong_code(secret))
    text = response.get_data(as_text=True)
    assert "Msimbo huo si sahihi" in text
    assert "programu ya uthibitishaji" in web.get("/login/code").get_data(as_text=True)


def test_a_changed_key_gives_a_clear_message_and_rotation_keeps_secrets(app, web, people):
    app.config["SECOND_FACTOR_KEY"] = "first-key-from-the-environment"
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    app.config["SECOND_FACTOR_KEY"] = "second-key,first-key-from-the-environment"
    assert _password_then(web, "treasurer", _next_code(secret)).headers["Location"] == "/"
    web.logout()
    app.config["SECOND_FACTOR_KEY"] = "another-key-altogether"
    response = _password_then(web, "treasurer", _next_code(secret))
    assert "can no longer be read" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)


def test_a_member_cannot_be_required_to_use_one(ctx, people):
    with pytest.raises(second_factor.SecondFactorError, match="only of officials"):
        second_factor.set_required_roles({Role.TREASURER, Role.MEMBER})
    assert second_factor.required_roles() == set()


def test_a_session_open_when_the_policy_changes_is_sent_to_enrolment(app, web, people):
    treasurer = Web(app.test_client())
    treasurer.login_with_password("treasurer")
    assert treasurer.get("/ledger").status_code == 200
    web.login("chair")
    web.post("/users/second-factor", {"roles": ["treasurer"]})
    assert treasurer.get("/ledger").headers["Location"].endswith("/account/second-factor")
    member = Web(app.test_client())
    member.login("member")
    assert member.get("/me", follow_redirects=True).status_code == 200


def test_a_set_up_begun_under_an_older_key_starts_again(app, web, people):
    web.login("treasurer")
    _start(web)
    app.config["SECOND_FACTOR_KEY"] = "a-new-key"
    page = web.get("/account/second-factor")
    assert page.status_code == 200
    assert "Set up an authenticator app" in page.get_data(as_text=True)
    secret = _start(web)
    response = web.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    assert len(CODE_RE.findall(response.get_data(as_text=True))) == 10


def _last_login(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User.last_login_at).where(User.username == username))


def test_last_login_is_stamped_after_the_code_not_the_password(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    assert _last_login(app, "treasurer") is None  # enrolled without a password login
    web.login_with_password("treasurer")
    assert _last_login(app, "treasurer") is None  # the password alone: not logged in
    web.post("/login/code", {"code": _wrong_code(secret)})
    assert _last_login(app, "treasurer") is None
    assert web.post("/login/code", {"code": _next_code(secret)}).headers["Location"] == "/"
    stamped = _last_login(app, "treasurer")
    assert stamped is not None and utcnow() - stamped < timedelta(seconds=10)


def _hashes(app, username: str) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(RecoveryCode.code_hash).join(
            User, User.id == RecoveryCode.user_id).where(User.username == username)))


def test_new_recovery_codes_after_a_current_code_and_the_old_ones_stop(app, web, people):
    secret, old, _ = _enrol(web, "treasurer")
    old_hashes = _hashes(app, "treasurer")
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert 'action="/account/second-factor/recovery-codes"' in page
    response = web.post("/account/second-factor/recovery-codes",
                        {"renew-code": _next_code(secret)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    text = response.get_data(as_text=True)
    assert "the old ones no longer work" in text
    new = CODE_RE.findall(text)
    assert len(new) == 10 and not set(new) & set(old)
    assert len(_hashes(app, "treasurer")) == 10 and not _hashes(app, "treasurer") & old_hashes
    # shown once: the page says how many are left, not which
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "Recovery codes left: 10" in page and not CODE_RE.search(page)
    web.logout()
    response = _password_then(web, "treasurer", old[0])
    assert "That code is not right" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)
    assert _password_then(web, "treasurer", new[0]).headers["Location"] == "/"
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "recovery_code", AuditEvent.actor == "treasurer")).all()
    actions = [e.action for e in events]
    assert actions.count("delete") == 10 and actions.count("create") == 20  # enrolment's too


def _reused_code(secret: str) -> str:
    """A code of the step enrolment used, or the one before: no longer accepted."""
    return pyotp.TOTP(secret).at(time.time() - 30)


@pytest.mark.parametrize("kind", ["empty", "long", "wrong", "reused", "recovery"])
@pytest.mark.parametrize("action,field", [("recovery-codes", "renew-code"), ("off", "off-code")])
def test_changing_ones_own_factor_needs_the_apps_current_code(app, web, people, kind, action,
                                                              field):
    secret, codes, _ = _enrol(web, "treasurer")
    before = _hashes(app, "treasurer")
    typed, message = {
        "empty": ("", "Enter the 6-digit code your authenticator app shows."),
        "long": ("9" * 41, "Field cannot be longer than 40 characters."),
        "wrong": (_wrong_code(secret), "a recovery code does not do here"),
        "reused": (_reused_code(secret), "That code was already used."),
        "recovery": (codes[0], "a recovery code does not do here"),
    }[kind]
    response = web.post(f"/account/second-factor/{action}", {field: typed},
                        follow_redirects=True)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert message in text and not CODE_RE.search(text)
    assert _factor(app, "treasurer").confirmed_at is not None  # nothing changed
    assert _hashes(app, "treasurer") == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
            RecoveryCode.used_at.is_not(None))) == 0  # the recovery code was not used up


@pytest.mark.parametrize("action,field", [("recovery-codes", "renew-code"), ("off", "off-code")])
def test_changing_ones_own_factor_refused_without_one_or_a_csrf_token(app, web, people, action,
                                                                      field):
    web.login("secretary")  # no second factor
    response = web.post(f"/account/second-factor/{action}", {field: "123456"},
                        follow_redirects=True)
    assert "Your second factor is not on." in response.get_data(as_text=True)
    secret, _codes, _ = _enrol(web, "treasurer")
    before = _hashes(app, "treasurer")
    response = web.client.post(f"/account/second-factor/{action}",
                               data={field: _next_code(secret)})
    assert response.status_code in (302, 303, 400)
    assert _factor(app, "treasurer").confirmed_at is not None
    assert _hashes(app, "treasurer") == before
    anonymous = Web(app.test_client())
    response = anonymous.post(f"/account/second-factor/{action}", {field: "123456"})
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_switching_ones_own_factor_off_with_a_current_code(app, web, people):
    secret, codes, _ = _enrol(web, "treasurer")
    response = web.post("/account/second-factor/off", {"off-code": _next_code(secret)},
                        follow_redirects=True)
    assert "Your second factor is off" in response.get_data(as_text=True)
    assert _factor(app, "treasurer") is None and _hashes(app, "treasurer") == set()
    assert web.get("/ledger").status_code == 200  # this session goes on
    assert "Set up an authenticator app" in web.get("/account/second-factor").get_data(
        as_text=True)
    web.logout()
    assert web.login_with_password("treasurer").headers["Location"] == "/"  # no code asked
    with app.app_context():
        events = {(e.object_type, e.action) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.actor == "treasurer"))}
    assert {("second_factor", "delete"), ("recovery_code", "delete")} <= events


def test_a_required_second_factor_cannot_be_switched_off(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    _require(app, Role.TREASURER)
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "it stays on" in page and 'action="/account/second-factor/off"' not in page
    response = web.post("/account/second-factor/off", {"off-code": _next_code(secret)},
                        follow_redirects=True)
    assert "you cannot switch it off" in response.get_data(as_text=True)
    assert _factor(app, "treasurer").confirmed_at is not None
    assert len(_hashes(app, "treasurer")) == 10
    # the code was not spent on the refusal: new recovery codes still take it
    response = web.post("/account/second-factor/recovery-codes",
                        {"renew-code": _next_code(secret)})
    assert len(CODE_RE.findall(response.get_data(as_text=True))) == 10


def test_changing_ones_own_factor_is_rate_limited(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    app.config["SECOND_FACTOR_RATE_LIMIT"] = "2 per 15 minutes"
    web.post("/account/second-factor/recovery-codes", {"renew-code": _wrong_code(secret)})
    web.post("/account/second-factor/off", {"off-code": _wrong_code(secret)})
    response = web.post("/account/second-factor/off", {"off-code": _next_code(secret)})
    assert response.status_code == 429
    assert _factor(app, "treasurer").confirmed_at is not None


def test_ones_own_factor_in_swahili(app, web, people):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.post("/language", {"language": "sw"})
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "Misimbo mipya ya dharura" in page and "Zima" in page
    response = web.post("/account/second-factor/recovery-codes",
                        {"renew-code": _next_code(secret)})
    assert "ile ya zamani haifanyi kazi tena" in response.get_data(as_text=True)


def test_the_administrator_resets_a_sole_chairs_second_factor_at_the_command_line(
        app, web, people, runner):
    secret, codes, _ = _enrol(web, "chair")  # the only chair: no one else can reset it
    assert web.get("/ledger").status_code == 200
    result = runner.invoke(args=["users", "reset-second-factor", "Chair"])
    assert result.exit_code == 0, result.output
    assert "The second factor of chair is reset; they are logged out everywhere." in result.output
    assert _factor(app, "chair") is None and _hashes(app, "chair") == set()
    assert web.get("/ledger").status_code in (302, 303)  # their sessions ended
    with app.app_context():
        events = {(e.object_type, e.action) for e in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.actor == "cli:users reset-second-factor"))}
    assert {("second_factor", "delete"), ("recovery_code", "delete"),
            ("user_session", "update"), ("user", "update")} <= events
    assert web.login_with_password("chair").headers["Location"] == "/"  # the password alone
    # Bad input: nothing to reset now, an unknown user; nothing is written.
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    none = runner.invoke(args=["users", "reset-second-factor", "chair"])
    assert none.exit_code == 1 and "chair has no second factor to reset." in none.output
    unknown = runner.invoke(args=["users", "reset-second-factor", "nobody"])
    assert unknown.exit_code == 1
    assert "No user has the username or phone number nobody." in unknown.output
    missing = runner.invoke(args=["users", "reset-second-factor"])
    assert missing.exit_code == 2 and "Missing argument" in missing.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def test_the_users_list_shows_who_has_the_second_factor_and_who_must(app, web, people):
    _enrol(Web(app.test_client()), "treasurer")
    _require(app, Role.TREASURER, Role.AUDITOR)
    web.login("chair")
    page = web.get("/users").get_data(as_text=True)
    assert "<th>Second factor</th>" in page
    rows = {m.group(1): m.group(0) for m in re.finditer(
        r'<tr>\s*<td><a href="/users/\d+">([a-z]+)</a></td>.*?</tr>', page, re.S)}
    cell = {name: re.findall(r"<td>(.*?)</td>", row, re.S)[4] for name, row in rows.items()}
    assert cell["treasurer"].startswith("In use") and "required for their role" in cell["treasurer"]
    assert cell["auditor"].startswith("Not in use") and "required for their role" in cell["auditor"]
    assert cell["secretary"] == "Not in use" and cell["chair"] == "Not in use"
    web.post("/language", {"language": "sw"})
    page = web.get("/users").get_data(as_text=True)
    assert "Inatumika" in page and "inahitajika kwa wadhifa wake" in page


# --- The security review's fixes (issue 20, item 2) ---------------------------------------


def _blocked_on_a_row_lock(app) -> bool:
    """Whether another transaction waits for a row lock (PostgreSQL); on SQLite the second
    writer waits for the write lock before it reads anything: a moment is given to it."""
    with db.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            time.sleep(0.3)
            return True
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").scalar())


def _twice_at_once(app, code: str) -> list[str]:
    """``code`` typed at the treasurer's code step by two requests at once: the second reads
    the factor and its codes before the first commits. Each one's outcome."""
    outcomes, errors = {}, []
    first_took_it = threading.Event()

    def attempt(name: str, first: bool) -> None:
        try:
            if not first:
                assert first_took_it.wait(10)
            with app.app_context(), acting_as("test"):
                user = db.session.scalar(sa.select(User).where(User.username == "treasurer"))
                try:
                    second_factor.verify(user, code)
                    outcomes[name] = "accepted"
                except second_factor.SecondFactorError as error:
                    outcomes[name] = str(error)
                if first:
                    first_took_it.set()
                    deadline = time.monotonic() + 10
                    while not _blocked_on_a_row_lock(app) and time.monotonic() < deadline:
                        time.sleep(0.05)
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
            first_took_it.set()

    threads = [threading.Thread(target=attempt, args=("first", True)),
               threading.Thread(target=attempt, args=("second", False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return [outcomes["first"], outcomes["second"]]


@pytest.mark.committed(reason="two transactions at once, in two threads")
@pytest.mark.parametrize("kind", ["app", "recovery"])
def test_a_code_typed_by_two_requests_at_once_is_taken_once(app, web, people, kind):
    secret, codes, _ = _enrol(web, "treasurer")
    code = _next_code(secret) if kind == "app" else codes[0]
    first, second = _twice_at_once(app, code)
    assert first == "accepted"
    assert second in ("That code was already used. Wait for your app to show the next one.",
                      "That recovery code was already used. Each one works once: use another.")
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == ("second_factor" if kind == "app" else "recovery_code"),
            AuditEvent.action == "update", AuditEvent.actor == "test")).all()
    assert len(events) == 1  # taken once, in the trail once
    if kind == "recovery":
        assert _recovery_used(app) == 1


def _recovery_used(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode).where(
            RecoveryCode.used_at.is_not(None)))


@pytest.fixture
def many_tries(app):
    """The rate limits out of the way: the lock after wrong codes in a row is tested."""
    app.config["SECOND_FACTOR_RATE_LIMIT"] = "1000 per minute"
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


def _wrong_codes(app) -> int:
    return _factor(app, "treasurer").wrong_codes


def test_ten_wrong_codes_in_a_row_lock_the_apps_code_until_a_recovery_code(app, web, people,
                                                                          many_tries):
    secret, codes, _ = _enrol(web, "treasurer")
    web.logout()
    web.login_with_password("treasurer")
    for _ in range(3):
        web.post("/login/code", {"code": _wrong_code(secret)})
    assert _wrong_codes(app) == 3  # kept although each failed request was discarded
    assert _password_then(web, "treasurer", _next_code(secret)).headers["Location"] == "/"
    assert _wrong_codes(app) == 0  # a right code ends the run
    web.logout()
    web.login_with_password("treasurer")
    for n in range(1, 10):
        text = web.post("/login/code", {"code": _wrong_code(secret)}).get_data(as_text=True)
        assert "That code is not right" in text, n
    assert _wrong_codes(app) == 9
    text = web.post("/login/code", {"code": _wrong_code(secret)}).get_data(as_text=True)
    assert "refused after 10 wrong codes in a row" in text
    # Locked: the right code from the app is refused too, and counted.
    response = web.post("/login/code", {"code": pyotp.TOTP(secret).now()})
    assert "refused after 10 wrong codes in a row" in response.get_data(as_text=True)
    assert web.get("/ledger").status_code in (302, 303)
    assert _wrong_codes(app) == 11
    # Logging in again does not unlock it; a wrong recovery code neither.
    response = _password_then(web, "treasurer", _next_code(secret))
    assert "refused after 10 wrong codes" in response.get_data(as_text=True)
    response = _password_then(web, "treasurer", "aaaa-bbbb-cccc-dddd")
    assert "refused after 10 wrong codes" in response.get_data(as_text=True)
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "second_factor").order_by(AuditEvent.seq)).all()
    counted = [e for e in events if e.action == "update" and '"wrong_codes":' in (e.after or "")
               and e.actor == "treasurer"]
    assert [e.after for e in counted if '"last_step"' not in e.after][-13:] == [
        f'{{"wrong_codes":{n}}}' for n in (1, 2, 3, *range(1, 14))][-13:]
    [lock] = [e for e in events if e.action == "second_factor.locked"]
    assert lock.actor == "treasurer" and lock.after == '{"wrong_codes":10}'
    # A recovery code logs in and unlocks the app's code.
    assert _password_then(web, "treasurer", codes[0]).headers["Location"] == "/"
    assert _wrong_codes(app) == 0
    web.logout()  # the app's code is no longer refused unread: a wrong one is just wrong
    response = _password_then(web, "treasurer", _wrong_code(secret))
    assert "That code is not right" in response.get_data(as_text=True)
    assert _wrong_codes(app) == 1


def test_the_lock_holds_for_ones_own_changes_and_the_chairs_reset_ends_it(app, web, people,
                                                                          many_tries):
    secret, _codes, _ = _enrol(web, "treasurer")
    with app.app_context():
        db.session.execute(sa.update(SecondFactor).values(wrong_codes=second_factor.LOCK_AFTER))
        db.session.commit()
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert "refused after too many wrong codes in a row" in page
    response = web.post("/account/second-factor/recovery-codes",
                        {"renew-code": _next_code(secret)}, follow_redirects=True)
    assert "refused after 10 wrong codes in a row" in response.get_data(as_text=True)
    assert not CODE_RE.search(response.get_data(as_text=True))
    chair = Web(app.test_client())
    chair.login("chair")
    chair.post(f"/users/{_user_id(app, 'treasurer')}/second-factor/reset")
    assert _factor(app, "treasurer") is None
    web.login("treasurer")
    secret = _start(web)
    response = web.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    assert len(CODE_RE.findall(response.get_data(as_text=True))) == 10
    assert _wrong_codes(app) == 0


def test_a_lock_reached_while_a_right_code_is_on_its_way_refuses_it(app, web, people):
    """Wrong codes counted by other requests after this one read the factor: the right code
    it brings is refused, not taken (the take itself asks that the factor is not locked)."""
    secret, _codes, _ = _enrol(web, "treasurer")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "treasurer"))
        factor = db.session.scalar(sa.select(SecondFactor).where(SecondFactor.user_id == user.id))
        assert factor.wrong_codes == 0  # as this request read it
        db.session.execute(  # the others' wrong codes, behind this request's back
            sa.update(SecondFactor).where(SecondFactor.id == factor.id)
            .values(wrong_codes=second_factor.LOCK_AFTER)
            .execution_options(synchronize_session=False))
        with pytest.raises(second_factor.SecondFactorError, match="10 wrong codes in a row"):
            second_factor.verify(user, _next_code(secret))
        db.session.rollback()


def test_the_lock_message_in_swahili(app, web, people, many_tries):
    secret, _codes, _ = _enrol(web, "treasurer")
    web.logout()
    web.post("/language", {"language": "sw"})
    web.token = None
    web.login_with_password("treasurer")
    for _ in range(10):
        response = web.post("/login/code", {"code": _wrong_code(secret)})
    assert "makosa 10 mfululizo" in response.get_data(as_text=True)


def test_setting_up_takes_the_password(app, web, people):
    web.login("treasurer")
    for typed, message in [("", "Enter your password to set up the second factor."),
                           ("wrong-password", "Your current password is not right."),
                           ("x" * 129, "Field cannot be longer than 128 characters.")]:
        response = web.post("/account/second-factor/start", {"password": typed},
                            follow_redirects=True)
        text = response.get_data(as_text=True)
        assert message in text, typed
        assert not SECRET_RE.search(text)
        assert _factor(app, "treasurer") is None  # nothing made
    page = web.get("/account/second-factor").get_data(as_text=True)
    assert 'type="password"' in page and "Your password" in page
    assert _start(web) and _factor(app, "treasurer").confirmed_at is None
    web.post("/language", {"language": "sw"})
    response = web.post("/account/second-factor/start", {"password": ""}, follow_redirects=True)
    assert "Andika nenosiri lako" in response.get_data(as_text=True)


def test_another_session_neither_sees_nor_confirms_a_set_up(app, web, people):
    """A session left open (or stolen) cannot take over the set-up its owner started."""
    thief = Web(app.test_client())
    thief.login("treasurer")
    web.login("treasurer")
    secret = _start(web)
    page = thief.get("/account/second-factor").get_data(as_text=True)
    assert secret not in page.replace(" ", "") and not QR_RE.search(page)
    response = thief.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()},
                          follow_redirects=True)
    assert "Start the set-up first." in response.get_data(as_text=True)
    assert _factor(app, "treasurer").confirmed_at is None
    assert thief.get("/ledger").status_code == 200  # the owner's session was not ended
    response = web.post("/account/second-factor/confirm", {"code": pyotp.TOTP(secret).now()})
    assert len(CODE_RE.findall(response.get_data(as_text=True))) == 10
