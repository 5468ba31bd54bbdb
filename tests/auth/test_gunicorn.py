"""Logging in and out against the README's production command: gunicorn with two workers,
on the test's database, with RATELIMIT_STORAGE_URI at its default. Each worker is reached
on a keep-alive connection of its own (gunicorn's access log names the worker that
answered), so the attempts really are spread over both processes."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from association.auth.models import Role
from association.extensions import db
from tests.conftest import CSRF_RE, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PID_RE = re.compile(r"^pid=<?(\d+)>? (\S+) (\S+) (\d+)$")

committed = pytest.mark.committed(
    reason="gunicorn's two worker processes share the test's database")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``gunicorn -w 2 --threads 4 wsgi:app`` (the README's production command) on a free
    port, APP_ENV=testing on the test's database, RATELIMIT_STORAGE_URI unset."""

    def __init__(self, database_url: str, tmp_path: Path):
        self.port = _free_port()
        self.connections: list[http.client.HTTPConnection] = []
        self.access_log = tmp_path / "access.log"
        self.log_path = tmp_path / "gunicorn.log"
        env = {**os.environ, "APP_ENV": "testing", "TEST_DATABASE_URL": database_url,
               "PYTHONPATH": str(ROOT)}
        for name in ("FLASK_APP", "RATELIMIT_STORAGE_URI", "LOGIN_RATE_LIMIT",
                     "LOGIN_RATE_LIMIT_PER_ACCOUNT"):
            env.pop(name, None)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own server
            [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "--keep-alive", "60",
             "-b", f"127.0.0.1:{self.port}", "--access-logfile", str(self.access_log),
             "--access-logformat", "pid=%(p)s %(m)s %(U)s %(s)s", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        for conn in self.connections:
            conn.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.log.close()

    def lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def pid_of(self, method: str, path: str, seen: int) -> str:
        """The worker that answered the first ``method path`` logged after line ``seen``."""
        for _ in range(250):
            for line in self.lines()[seen:]:
                match = PID_RE.match(line)
                if match and match.group(2) == method and match.group(3) == path:
                    return match.group(1)
            time.sleep(0.02)
        raise AssertionError(f"no access log line for {method} {path}")

    def browser(self) -> "Browser":
        return Browser(self)

    def one_connection_per_worker(self, browser: "Browser") -> list[http.client.HTTPConnection]:
        """Two keep-alive connections, each held by a different worker (the others are kept
        open too: a worker with no connection is the likelier to accept the next one)."""
        by_pid: dict[str, http.client.HTTPConnection] = {}
        deadline = time.monotonic() + 60  # the second worker may still be loading the app
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            seen = len(self.lines())
            browser.request(conn, "GET", "/healthz")
            pid = self.pid_of("GET", "/healthz", seen)
            self.connections.append(conn)
            by_pid.setdefault(pid, conn)
            if len(by_pid) == 2:
                return list(by_pid.values())
            time.sleep(0.1)
        raise AssertionError("the two workers could not both be reached")


class Browser:
    """Cookies and CSRF tokens over given connections, as a browser keeps them."""

    def __init__(self, server: Server):
        self.server = server
        self.cookies: dict[str, str] = {}

    def request(self, conn, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for name, morsel in cookie.items():
                if morsel["expires"] and "1970" in morsel["expires"] or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response.status, text

    def token(self, conn, page: str = "/login") -> str:
        status, page = self.request(conn, "GET", page)
        match = CSRF_RE.search(page)
        assert match, page[:300]
        return match.group(1) or match.group(2)

    def login(self, conn, login, password):
        return self.request(conn, "POST", "/login",
                            {"login": login, "password": password, "csrf_token": self.token(conn)})


@pytest.fixture
def server(app, database_url, tmp_path, make_user):
    make_user("treasurer", Role.TREASURER, phone="0712345678")
    with app.app_context():
        db.engine.dispose()  # no connection of ours kept open across the workers' writes
    started = Server(database_url, tmp_path)
    yield started
    started.stop()  # before the app fixture empties the database


@committed
def test_ten_wrong_passwords_across_both_workers_then_the_eleventh_is_refused(server):
    browser = server.browser()
    first, second = server.one_connection_per_worker(browser)
    pids = set()
    for n in range(10):
        conn = (first, second)[n % 2]
        seen = len(server.lines())
        status, page = browser.login(conn, "treasurer", "wrong-password")
        assert status == 200 and "do not match" in page
        pids.add(server.pid_of("POST", "/login", seen))
    assert len(pids) == 2  # both workers counted the attempts
    for conn in (first, second):
        status, page = browser.login(conn, "treasurer", PASSWORD)
        assert status == 429 and "Too many login attempts" in page


@committed
def test_the_three_phone_spellings_share_the_limit_across_workers(server):
    browser = server.browser()
    connections = server.one_connection_per_worker(browser)
    spellings = ["0712345678", "+254 712 345 678", "712345678"]
    for n in range(10):
        status, _ = browser.login(connections[n % 2], spellings[n % 3], "wrong-password")
        assert status == 200
    for n, typed in enumerate(spellings):
        status, _ = browser.login(connections[n % 2], typed, PASSWORD)
        assert status == 429, typed


@committed
def test_a_cookie_replayed_after_logout_is_refused_by_either_worker(server):
    browser = server.browser()
    first, second = server.one_connection_per_worker(browser)
    status, _ = browser.login(first, "treasurer", PASSWORD)
    assert status == 302
    assert browser.request(second, "GET", "/members")[0] == 200
    copied = dict(browser.cookies)
    status, _ = browser.request(second, "POST", "/logout",
                                {"csrf_token": browser.token(second, "/account/password")})
    assert status == 302
    browser.cookies = copied
    for conn in (first, second):
        status, _ = browser.request(conn, "GET", "/members")
        assert status == 302
