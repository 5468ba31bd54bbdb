"""One transaction boundary (association/transaction.py): a request commits once, at its
end, or rolls back; no view commits; a GET writes nothing but its read audit; on SQLite a
long export holds no write lock while M-Pesa callbacks and page views go on.

These tests need committed data: the boundary's commit is what they watch, and the
concurrency test serves the app over real HTTP in threads, each with its own connection,
so they run on the committed test database (emptied after each test), not inside a
rolled-back transaction.
"""

import http.client
import json
import re
import socket
import sqlite3
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import abort, redirect

from association import create_app
from association.audit.models import AuditEvent, AuditHead
from association.audit.services import acting_as, log_event
from association.auth.permissions import public
from association.core.time import today_in_nairobi, utcnow
from association.errors import DomainError
from association.extensions import db
from association.hosting.tenancy import current, tenancy
from association.ledger.accounts import account_id
from association.ledger.models import EntrySource, JournalEntry, Posting, Side
from association.members.models import Member, Zone
from association.mpesa import stk
from association.mpesa.models import CallbackInbox, MpesaTransaction, StkRequest, StkStatus
from association.worker import beat
from config import TestingConfig
from tests.conftest import CSRF_RE, PASSWORD, count
from tests.mpesa.daraja_helpers import (  # noqa: F401 - fixtures
    TOKEN,
    c2b_confirmation,
    daraja,
    sandbox,
)

ROOT = Path(__file__).resolve().parent.parent


# --- No view commits ------------------------------------------------------------------------


def test_no_view_module_commits():
    """Views leave the commit to the boundary: not one ``commit()`` in a view module."""
    modules = sorted(path for path in ROOT.glob("association/**/*.py")
                     if "views" in path.relative_to(ROOT).as_posix())  # views.py, views/...
    assert len(modules) >= 13
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in modules
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if "commit()" in line]
    assert offenders == []


# --- The boundary's rule, on routes made for the test ----------------------------------------


def _zone_names(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Zone.name)))


@pytest.fixture
def routes(database_url, upload_dir, setup_association):
    """An app of its own with routes that write a zone, then end in each of the ways a view
    can end (Flask takes no new route once the session's app has served a request)."""
    from association import transaction

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                     "UPLOAD_DIR": upload_dir, "WTF_CSRF_ENABLED": False})

    def add(name: str):
        db.session.add(Zone(name=name))
        db.session.flush()

    @public
    def refused():
        add("Refused")
        try:
            raise DomainError("no")
        except DomainError:
            transaction.discard()
        return redirect("/")

    @public
    def crashed():
        add("Crashed")
        raise RuntimeError("a bug")

    @public
    def error_status():
        add("Error status")
        abort(404)

    @public
    def saved():
        add("Saved")
        return redirect("/")

    @public
    def clash():
        db.session.add(Zone(name="Mabatini"))  # taken: fails at the commit, at the end
        return redirect("/")

    for view in (refused, crashed, error_status, saved, clash):
        app.add_url_rule(f"/test/{view.__name__}", view.__name__, view, methods=["POST"])
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


#: The routes' app has an engine of its own: what its requests write is committed.
OWN_APP = pytest.mark.committed(reason="the test's routes are served by an app of its own, "
                                       "whose engine commits for real")


@OWN_APP
def test_a_refused_action_leaves_no_row_behind(routes):
    client = routes.test_client()
    before = _zone_names(routes)
    assert client.post("/test/refused").status_code == 302
    assert _zone_names(routes) == before


@OWN_APP
def test_an_exception_rolls_back(routes):
    client = routes.test_client()
    before = _zone_names(routes)
    assert client.post("/test/crashed").status_code == 500
    assert _zone_names(routes) == before


@OWN_APP
def test_an_error_status_rolls_back(routes):
    client = routes.test_client()
    before = _zone_names(routes)
    assert client.post("/test/error_status").status_code == 404
    assert _zone_names(routes) == before


@OWN_APP
def test_a_redirect_is_committed_before_it_is_followed(routes):
    client = routes.test_client()
    response = client.post("/test/saved")
    assert response.status_code == 302
    assert "Saved" in _zone_names(routes)  # committed before the client follows it


@OWN_APP
def test_a_commit_that_fails_gives_the_error_page_and_saves_nothing(routes):
    client = routes.test_client()
    before = _zone_names(routes)
    response = client.post("/test/clash")
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Nothing was saved" in text and "Traceback" not in text
    assert response.headers["X-Frame-Options"] == "DENY"  # still through the other hooks
    assert _zone_names(routes) == before


def test_a_real_refusal_leaves_nothing_half_written(app, web, people, setup_association):
    """The service adds Monday's shift, then refuses Tuesday's (it overlaps one the zone
    has): Monday's, already flushed, is not kept either, nor audited."""
    from association.patrols.models import ShiftTemplate

    web.login("chair")
    url = f"/patrols/zones/{setup_association.zone_id}/shifts"
    assert web.post(url, {"weekdays": ["1"], "start_time": "18:00", "end_time": "22:00"}
                    ).status_code == 302
    with app.app_context():
        shifts, events = count(ShiftTemplate), count(AuditEvent)
    response = web.post(url, {"weekdays": ["0", "1"], "start_time": "19:00",
                              "end_time": "23:00"}, follow_redirects=True)
    assert "overlaps this one" in response.get_data(as_text=True)
    with app.app_context():
        assert count(ShiftTemplate) == shifts == 1
        assert count(AuditEvent) == events


# --- A GET writes nothing but its read audit -------------------------------------------------


def _snapshot(app) -> dict:
    """Every row of every table but the audit trail's."""
    with app.app_context():
        tables = {}
        for table in db.metadata.sorted_tables:
            if table.name in ("audit_event", "audit_head"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = db.session.execute(sa.select(table).order_by(*order)).all()
        return tables


def _simple_get_urls(app) -> list[str]:
    skip = {"static", "auth.logout"}
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments and rule.endpoint not in skip})


def test_get_requests_leave_the_database_unchanged(app, web, people):
    """Every page without an id in its address, opened by the chair, writes nothing but
    the audit of what it showed or exported; the settings rows are not made by a view."""
    web.login("chair")
    with app.app_context():
        beat("worker", utcnow().replace(microsecond=0), 0, worked=False)  # /healthz: 200
    before = _snapshot(app)
    with app.app_context():
        seq = db.session.scalar(sa.select(AuditHead.seq))
    urls = _simple_get_urls(app)
    assert len(urls) > 30
    for url in urls:
        response = web.get(url)
        assert response.status_code < 500, url
        response.close()
    assert _snapshot(app) == before
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.seq > seq)))
    assert actions <= {"view", "export"}


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_pending_prompts_page_leaves_the_database_unchanged(
        app, web, people, daraja, sandbox):  # noqa: F811
    """The pay-status page of a prompt due a question to Daraja asks nothing and writes
    nothing: the worker asks (tests/mpesa/test_stk.py), the page shows what it recorded."""
    daraja.stop_worker()  # it would ask Daraja meanwhile: no worker in this test
    sandbox.state.delay = 30  # the callback would come much later
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, people.own_member_id)
        member.phone = "+254712345678"
        request = stk.create_request(member, 5_000, "0712345678", None)
        db.session.commit()
        stk.send_request(request)
        request.created_at -= stk.QUERY_AFTER  # due a question
        db.session.commit()
        request_id = request.id
    web.login("member")
    before = _snapshot(app)
    for _ in range(2):
        response = web.get(f"/mpesa/pay/{request_id}")
        assert response.status_code == 200 and response.headers["Refresh"] == "5"
        response.close()
    assert _snapshot(app) == before
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        assert request.status == StkStatus.PENDING and request.query_count == 0


def test_a_read_audit_is_written_by_the_boundary(app, web, people):
    """An export's audit event is the one write of its GET, committed at its end."""
    web.login("chair")
    before = _snapshot(app)
    with app.app_context():
        events = count(AuditEvent)
    response = web.get("/reports/trial-balance?format=csv")
    assert response.status_code == 200
    response.close()
    assert _snapshot(app) == before
    with app.app_context():
        assert count(AuditEvent) == events + 1
        last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert (last.action, last.object_type, last.actor) == ("export", "report", "chair")


@OWN_APP
def test_a_read_audit_is_kept_even_when_a_writer_committed_meanwhile(database_url, upload_dir,
                                                                       setup_association):
    """A GET's transaction began deferred and read; another writer commits; the audit of
    the read is still written (in a transaction of its own, not by upgrading the read)."""
    from association import transaction

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                     "UPLOAD_DIR": upload_dir})

    @public
    def audited_read():
        count(Zone)  # the read transaction has a snapshot now
        with app.app_context(), acting_as("other"):  # another writer, committed
            db.session.add(Zone(name="Meanwhile"))
            db.session.commit()
        log_event("view", "zone_list", None, {"read": True})
        return "ok"

    audited_read.__name__ = "audited_read"
    app.add_url_rule("/test/audited-read", "audited_read", audited_read)
    assert transaction.reads_only() is False  # outside a request: a writer
    with app.app_context():
        events = count(AuditEvent)
    response = app.test_client().get("/test/audited-read")
    assert response.status_code == 200
    with app.app_context():
        assert count(AuditEvent) == events + 2  # the zone, then the read's audit
        assert db.session.scalar(sa.select(AuditEvent.action).order_by(
            AuditEvent.seq.desc()).limit(1)) == "view"
        db.session.remove()
        db.engine.dispose()


# --- A long export beside 100 callbacks and 20 page views --------------------------------------

ENTRIES = 30_000
MEMO = "Cash received at the office for the month's dues, counted and banked the same day"


def _many_cash_entries(app) -> tuple[date, date]:
    """ENTRIES cash entries (Core inserts, as bench/generate.py writes scale data): a cash
    book of several megabytes."""
    first = today_in_nairobi() - timedelta(days=300)
    with app.app_context():
        cash, income = account_id("cash"), account_id("residents_dues")
        now = utcnow()
        top = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(JournalEntry.id), 0)))
        entries, postings = [], []
        for n in range(ENTRIES):
            entry_id = top + n + 1
            entries.append({"id": entry_id, "entry_date": first + timedelta(days=n % 300),
                            "memo": MEMO, "source": EntrySource.ADJUSTMENT, "reference": f"R{n}",
                            "posted_at": now})
            postings += [{"entry_id": entry_id, "account_id": cash, "side": Side.DEBIT,
                          "amount_cents": 10_000 + n},
                         {"entry_id": entry_id, "account_id": income, "side": Side.CREDIT,
                          "amount_cents": 10_000 + n}]
        for start in range(0, ENTRIES, 5000):
            db.session.execute(sa.insert(JournalEntry), entries[start:start + 5000])
        for start in range(0, len(postings), 10000):
            db.session.execute(sa.insert(Posting), postings[start:start + 10000])
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text(
                "SELECT setval('journal_entry_id_seq', (SELECT max(id) FROM journal_entry))"))
        db.session.commit()
    return first, today_in_nairobi()


class Browser:
    """A logged-in browser over real HTTP, one connection per request."""

    def __init__(self, url: str):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.cookie = ""

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        headers = {"Cookie": self.cookie, **(headers or {})}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            if cookie.startswith("session="):  # the login also sets the device cookie
                self.cookie = cookie.split(";", 1)[0]
        conn.close()
        return response.status, data

    def login(self, username: str) -> None:
        _, page = self.request("GET", "/login")
        match = CSRF_RE.search(page.decode())
        token = match.group(1) or match.group(2)
        from urllib.parse import urlencode

        status, _ = self.request(
            "POST", "/login", urlencode({"login": username, "password": PASSWORD,
                                         "csrf_token": token}),
            {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302


def _slow_download(browser: Browser, path: str, started: threading.Event, result: dict):
    """Read a streamed download slowly through a small window, as a phone would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((browser.host, int(browser.port)))
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {browser.host}\r\nCookie: {browser.cookie}\r\n\r\n"
                 .encode())
    chunks = []
    begun = time.monotonic()
    while chunk := sock.recv(32 * 1024):
        chunks.append(chunk)
        if len(chunks) == 4:
            started.set()
        time.sleep(0.02)
    sock.close()
    started.set()
    result["seconds"] = time.monotonic() - begun
    result["finished"] = time.monotonic()
    result["body"] = b"".join(chunks)


def _write_lock_free(app) -> bool:
    """Whether SQLite's write lock is free this moment (tried once, without waiting)."""
    with app.app_context():
        url, _schema = tenancy(app).location(current())
    path = url.removeprefix("sqlite:///")
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


@pytest.mark.committed(reason="the app is served over real HTTP to threads of the test: "
                              "callbacks, pages and the export each on a connection of its own")
def test_a_long_export_holds_up_no_callback_and_no_page(app, daraja, people):  # noqa: F811
    first, last = _many_cash_entries(app)
    browser = Browser(daraja.url)
    browser.login("chair")
    started, export = threading.Event(), {}
    download = threading.Thread(target=_slow_download, args=(
        browser, f"/reports/cash-book?account=cash&from={first}&to={last}&format=csv",
        started, export))
    download.start()
    assert started.wait(60)
    lock_free_during_export = _write_lock_free(app) if app.config[
        "SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else True

    answers, pages = [], []

    def callback(n: int):
        body = json.dumps(c2b_confirmation(receipt=f"TC57C{n:05d}", account="MLK-0001",
                                           amount="100.00")).encode()
        conn = http.client.HTTPConnection(browser.host, int(browser.port), timeout=60)
        begun = time.monotonic()
        conn.request("POST", f"/mpesa/c2b/confirmation/{TOKEN}", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answers.append((response.status, json.loads(response.read()),
                        time.monotonic() - begun, time.monotonic()))
        conn.close()

    def page():
        status, html = browser.request("GET", "/members")
        pages.append((status, b"MLK-0001" in html))

    threads = [threading.Thread(target=callback, args=(n,)) for n in range(100)]
    threads += [threading.Thread(target=page) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    download.join(120)
    daraja.wait_idle()

    assert lock_free_during_export
    assert len(answers) == 100
    assert {(status, json.dumps(body)) for status, body, _, _ in answers} == {
        (200, json.dumps({"ResultCode": 0, "ResultDesc": "Success"}))}
    assert max(seconds for _, _, seconds, _ in answers) < 20  # Daraja waits 30 s at most
    assert pages == [(200, True)] * 20
    # The export was still going when the last callback had its answer: none waited for it.
    assert export["seconds"] > 1
    assert max(done for _, _, _, done in answers) < export["finished"]
    body = export["body"]
    assert body.startswith(b"HTTP/1.") and b" 200 " in body.split(b"\r\n", 1)[0]
    assert len(re.findall(rb"\r\n\d{4}-\d{2}-\d{2},R\d+,", body)) == ENTRIES
    with app.app_context():
        assert count(CallbackInbox) == 100
        assert count(MpesaTransaction) == 100
