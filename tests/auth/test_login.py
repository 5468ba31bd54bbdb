"""Logging in and out: by username or phone, throttled, with safe sessions."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from association.auth.models import Role, User
from association.core.time import utcnow
from association.extensions import db
from tests.conftest import PASSWORD


def test_login_by_username_then_logout(web, setup_association):
    response = web.login_with_password("chair")
    assert response.status_code in (302, 303)
    assert web.get("/members").status_code == 200
    web.logout()
    assert web.get("/members").status_code in (302, 303)


@pytest.mark.parametrize(
    "typed", ["0712345678", "0712 345 678", "+254712345678", "254712345678",
              "254 712 345 678", "0712-345-678", "(0712) 345 678", "+254 (0) 712 345 678"]
)
def test_login_by_phone_in_any_usual_form(web, make_user, typed):
    make_user("treasurer", Role.TREASURER, phone="0712345678")
    assert web.login_with_password(typed).status_code in (302, 303)
    assert web.get("/members").status_code == 200


def test_safaricom_01_numbers_log_in_too(web, make_user):
    make_user("coordinator", Role.COORDINATOR, phone="0110123456")
    assert web.login_with_password("0110 123 456").status_code in (302, 303)


@pytest.mark.parametrize("login,password", [
    ("chair", "wrong-password"),
    ("nobody", PASSWORD),
    ("0799999999", PASSWORD),
    ("", PASSWORD),
    ("chair", ""),
    ("x" * 500, PASSWORD),
])
def test_bad_logins_are_refused_with_a_message(web, setup_association, login, password):
    response = web.login_with_password(login, password)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert re.search(r"do not match|Enter your|Field cannot be longer", text), text[:400]
    assert web.get("/members").status_code in (302, 303)


def test_login_message_in_swahili(web, setup_association):
    web.client.set_cookie("lang", "x")  # irrelevant cookies are ignored
    web.post("/language", {"language": "sw"})
    web.token = None
    response = web.post("/login", {"login": "chair", "password": "wrong-password"})
    assert "havilingani" in response.get_data(as_text=True)


def test_deactivated_user_cannot_log_in(app, web, make_user):
    make_user("auditor", Role.AUDITOR)
    web.login_with_password("chair")
    import sqlalchemy as sa

    from association.auth.models import User
    from association.extensions import db

    with app.app_context():
        auditor_id = db.session.scalar(sa.select(User.id).where(User.username == "auditor"))
    web.post(f"/users/{auditor_id}/active", {})
    web.logout()
    response = web.login_with_password("auditor")
    assert "deactivated" in response.get_data(as_text=True)


def test_login_is_throttled_with_a_clear_message(app, web, setup_association):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert web.login_with_password("chair", "wrong-password").status_code == 200
    response = web.login_with_password("chair", PASSWORD)
    assert response.status_code == 429
    assert "Too many login attempts" in response.get_data(as_text=True)


def test_one_account_is_throttled_across_addresses(app, web, setup_association):
    app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    for n in range(2):
        web.client.environ_base["REMOTE_ADDR"] = f"10.9.0.{n}"
        web.login_with_password("chair", "wrong-password")
    web.client.environ_base["REMOTE_ADDR"] = "10.9.0.99"
    assert web.login_with_password("chair", PASSWORD).status_code == 429


def test_login_without_csrf_token_is_refused(client, setup_association):
    response = client.post("/login", data={"login": "chair", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/members").status_code in (302, 303)


def test_session_cookie_is_httponly_and_samesite(web, setup_association):
    response = web.login_with_password("chair")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_style(web, people):
    web.login_with_password("chair")
    for url in ("/login", "/members", f"/members/{people.other_member_id}", "/users", "/audit"):
        html = web.get(url).get_data(as_text=True)
        assert "<script" not in html, url
        assert "style=" not in html and "<style" not in html, url


def test_login_redirects_only_to_same_site_paths(web, setup_association):
    web.token = None
    response = web.post("/login?next=https://evil.example/steal",
                        {"login": "chair", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    web.logout()
    response = web.post("/login?next=//evil.example", {"login": "chair", "password": PASSWORD})
    assert response.headers["Location"] == "/"
    web.logout()
    response = web.post("/login?next=/zones", {"login": "chair", "password": PASSWORD})
    assert response.headers["Location"] == "/zones"


def test_language_choice_is_remembered_for_the_user(app, web, setup_association):
    web.login_with_password("chair")
    web.post("/language", {"language": "sw"})
    web.logout()
    web.client.delete_cookie("session")
    web.login_with_password("chair")
    page = web.get("/members").get_data(as_text=True)
    assert 'lang="sw"' in page
    assert "Wanachama" in page


def test_unknown_language_is_ignored(web, setup_association):
    web.post("/language", {"language": "xx"})
    assert 'lang="en"' in web.get("/login").get_data(as_text=True)


def test_browser_language_is_used_before_any_choice(client):
    page = client.get("/login", headers={"Accept-Language": "sw-KE,sw;q=0.9"})
    assert 'lang="sw"' in page.get_data(as_text=True)


def test_temporary_password_must_be_changed_first(app, web, make_user):
    make_user("secretary", Role.SECRETARY, must_change_password=True)
    web.login_with_password("secretary")
    response = web.get("/members")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/account/password")
    web.token = None
    bad = web.post("/account/password", {"current": PASSWORD, "new": "short",
                                         "confirm": "short"})
    assert "at least 10" in bad.get_data(as_text=True)  # an official (issue 20)
    ok = web.post("/account/password", {"current": PASSWORD, "new": "a new long passphrase",
                                        "confirm": "a new long passphrase"})
    assert ok.status_code in (302, 303)
    assert web.get("/members").status_code == 200


@pytest.mark.parametrize("current,new,confirm,message", [
    ("wrong", "a new long passphrase", "a new long passphrase", "current password is not right"),
    (PASSWORD, "a new long passphrase", "something else entirely", "not the same"),
    (PASSWORD, PASSWORD, PASSWORD, "different from the current"),
    (PASSWORD, "password123", "password123", "too easy to guess"),
    (PASSWORD, "chair-2026-x", "chair-2026-x", "must not contain your username"),
    (PASSWORD, "x" * 200, "x" * 200, "Field cannot be longer"),
    ("", "", "", "Enter your current password"),
])
def test_bad_password_changes_change_nothing(web, setup_association, current, new, confirm,
                                             message):
    web.login_with_password("chair")
    response = web.post("/account/password", {"current": current, "new": new,
                                              "confirm": confirm})
    assert message in response.get_data(as_text=True)
    web.logout()
    assert web.login_with_password("chair").status_code in (302, 303)


def _last_login(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User.last_login_at).where(User.username == username))


def test_last_login_is_stamped_when_the_login_completes(app, web, setup_association):
    assert _last_login(app, "chair") is None
    web.post("/login", {"login": "chair", "password": "wrong password here"})
    assert _last_login(app, "chair") is None
    web.login_with_password("chair")
    assert utcnow() - _last_login(app, "chair") < timedelta(seconds=10)
