"""Headers and cookies on every kind of response, passwords, and Daraja's callback guards.

Every GET route the app has is fetched (pages, PDFs, CSV, ZIP, calendar feeds), as are the
error pages (400, 403, 404, 405, 413, 429), a static file, a redirect and a callback's JSON.
"""

import io
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from association import create_app
from association.auth.models import User
from association.extensions import db
from association.hosting.tenancy import catalogue_engine, tenancy
from config import ProductionConfig
from tests.conftest import PASSWORD, Web
from tests.mpesa.daraja_helpers import c2b_confirmation
from tests.security.conftest import get_pages, snapshot


class _Live(HTMLParser):
    """Finds what a strict CSP would have to allow: inline script, handlers, inline style,
    javascript: addresses."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value or "" for name, value in attrs}
        if tag in ("script", "style") and not names.get("src"):
            self.found.append(f"<{tag}> inline")
        for name, value in names.items():
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and \
                    value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value[:30]}>")


def live_markup(html: str) -> list[str]:
    """Elements that would run script or need inline style (none may exist)."""
    parser = _Live()
    parser.feed(html)
    return parser.found


def assert_secure_headers(response, what: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";")
                      if part.strip())
    script = directives.get("script-src", directives.get("default-src", ""))
    assert script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, what
    assert "'unsafe-inline'" not in directives.get("default-src", ""), what
    assert directives.get("frame-ancestors") == "'none'", what
    assert directives.get("object-src") == "'none'", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                              "strict-origin-when-cross-origin"), what


def test_every_response_of_every_route_carries_the_security_headers(world, client):
    """As the chair and as a visitor, every GET route (whatever it answers: a page, a PDF, a
    CSV, a redirect to log in, a 404), and HTML pages hold no inline script or style."""
    app, values = world.app, world.values
    web = Web(client)
    kinds = set()
    for who in (None, "chair", "member"):
        if who:
            web.login(who)
        for _endpoint, url in get_pages(app, values):
            response = client.get(url)
            assert response.status_code < 500, url
            assert_secure_headers(response, f"{who} {url}")
            kinds.add((response.status_code, response.mimetype))
            if response.mimetype == "text/html":
                assert live_markup(response.get_data(as_text=True)) == [], url
        if who:
            web.logout()
    # It did meet the kinds of response there are.
    mimetypes = {m for _, m in kinds}
    assert {"text/html", "application/pdf", "text/csv", "application/zip",
            "text/calendar"} <= mimetypes, mimetypes
    assert {200, 302, 403, 404} <= {s for s, _ in kinds}


def test_error_static_and_callback_responses_carry_them_too(world, client, app):
    web = Web(client)
    responses = {
        "static": client.get("/static/app.css"),
        "404": client.get("/no-such-page"),
        "405": client.get("/logout"),
        "400 csrf": client.post("/login", data={"login": "chair", "password": PASSWORD}),
        "callback": client.post(f"/mpesa/c2b/validation/{world.values['callback_token']}",
                                json=c2b_confirmation()),
        "wrong token": client.post("/mpesa/c2b/validation/nope", json={}),
    }
    app.config["MAX_CONTENT_LENGTH"] = 1024
    web.login("chair")
    responses["413"] = web.post("/members/import", {"file": (io.BytesIO(b"x" * 4096), "big.csv")},
                                content_type="multipart/form-data")
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024
    web.logout()
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    web.login_with_password("chair", "wrong-password-1")
    responses["429"] = web.login_with_password("chair", "wrong-password-2")
    for what, response in responses.items():
        assert_secure_headers(response, what)
    assert responses["429"].status_code == 429
    assert responses["413"].status_code == 413
    assert responses["callback"].is_json


def test_the_pages_icon_is_a_static_file_that_leaves_the_session_alone(world, client):
    """Pages name their icon. Without one the browser asked for /favicon.ico and got the 404
    page, which wrote the session cookie: arriving late, it undid a language chosen meanwhile."""
    page = client.get("/login")
    assert page.headers.getlist("Set-Cookie")  # the session now holds the form's token
    href = re.search(r'<link rel="icon" href="([^"]+)"', page.get_data(as_text=True)).group(1)
    icon = client.get(href)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data().startswith(b"<svg")
    assert not icon.headers.getlist("Set-Cookie")
    icon.close()


@pytest.mark.committed(reason="a second app (the production configuration) with an engine "
                              "of its own reads the users")
def test_production_cookies_are_secure_httponly_and_samesite(world, monkeypatch):
    """Under the production configuration the session (and remember-me) cookie is sent only
    over HTTPS, hidden from scripts and not sent on cross-site posts; HSTS is on."""
    monkeypatch.setenv("DATABASE_URL", world.app.config["SQLALCHEMY_DATABASE_URI"])
    prod = create_app(ProductionConfig, {
        "SQLALCHEMY_DATABASE_URI": world.app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "a-long-random-production-like-secret-0123456789",
        "UPLOAD_DIR": world.app.config["UPLOAD_DIR"],
    })
    client = prod.test_client()
    page = client.get("/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    response = client.post("/login", base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"},
                           data={"csrf_token": token, "login": "chair", "password": PASSWORD,
                                 "remember": "y"})
    assert response.status_code in (302, 303)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies
    for cookie in cookies:
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly"} <= flags, cookie
        assert re.search(r"SameSite=(Lax|Strict)", cookie), cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_secure_headers(response, "production login")
    # Its engines are its own: closed here, not left to the garbage collector (which
    # would warn, in whichever test it ran).
    tenancy(prod).dispose()
    catalogue_engine(prod).dispose()


def _hash_of(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User.password_hash).where(User.username == username))


def test_password_rules_hold_on_the_change_form_and_hashes_are_argon2id(
        app, web, people, production_password_cost):
    web.login("treasurer")
    before = _hash_of(app, "treasurer")
    for weak in ("short1", "password123", "aaaaaaaaaaaa", "treasurer-2026!", "x" * 129,
                 "<script>alert(1)</script>"[:7]):
        response = web.post("/account/password", {"current": PASSWORD, "new": weak,
                                                   "confirm": weak})
        assert response.status_code == 200, weak  # the form again, with the reason
        assert _hash_of(app, "treasurer") == before, weak
    wrong_current = web.post("/account/password", {"current": "not-it",
                                                   "new": "Chai-ya-Tangawizi-7",
                                                   "confirm": "Chai-ya-Tangawizi-7"})
    assert wrong_current.status_code == 200
    assert _hash_of(app, "treasurer") == before
    good = web.post("/account/password", {"current": PASSWORD, "new": "Chai-ya-Tangawizi-7",
                                          "confirm": "Chai-ya-Tangawizi-7"})
    assert good.status_code in (302, 303)
    after = _hash_of(app, "treasurer")
    assert after != before and "Tangawizi" not in after
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", after)
    assert match, after
    memory, time_cost, _ = map(int, match.groups())
    assert memory >= 19 * 1024 and time_cost >= 2  # OWASP's floor for argon2id
    web.logout()
    old = web.login_with_password("treasurer", PASSWORD)
    assert old.status_code == 200  # the old one no longer works
    assert web.login_with_password("treasurer", "Chai-ya-Tangawizi-7").status_code in (302, 303)


def test_callbacks_from_an_address_off_the_allow_list_move_no_money(world, client):
    """A real confirmation body, the right token, but from an address Safaricom does not
    use: refused, and no transaction, payment or journal entry appears."""
    app, values = world.app, world.values
    app.config["MPESA_ALLOWED_IPS"] = "196.201.214.200"
    before = snapshot(app)
    url = f"/mpesa/c2b/confirmation/{values['callback_token']}"
    response = client.post(url, json=c2b_confirmation(receipt="TC57EVIL01",
                                                      account=world.names["member_no"]))
    assert response.status_code == 403
    after = snapshot(app)
    moved = {table for table in before if before[table] != after[table]}
    # Only the raw callback (kept for the record) and its audit trail are written (and the
    # day's audit checkpoint, when this is the first time the worker runs today).
    assert moved <= {"mpesa_callback_inbox", "audit_event", "audit_head", "audit_checkpoint"}, \
        moved
