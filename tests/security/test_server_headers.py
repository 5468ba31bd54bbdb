"""Issue 20, item 5: no ``Server: gunicorn`` header, and HSTS only on answers over HTTPS.

The app is served the way the README's production command serves it (gunicorn, two workers
and four threads, reading ./gunicorn.conf.py from the checkout) under the production
configuration behind one trusted proxy, as nginx runs it; the headers are read over HTTP.
"""

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from association import create_app
from association.extensions import db
from config import ProductionConfig

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
HSTS = "max-age=31536000; includeSubDomains"
SECRET = "a-long-random-production-like-secret-0123456789"  # noqa: S105 - a test's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture
def gunicorn(app, database_url, tmp_path, setup_association):
    """gunicorn as the README starts it (-w 2 --threads 4 -b 127.0.0.1:PORT wsgi:app), with
    the production settings and TRUSTED_PROXIES=1 (nginx in front); yields its port."""
    with app.app_context():
        db.engine.dispose()
    port = _free_port()
    env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": database_url,
           "SECRET_KEY": SECRET, "TRUSTED_PROXIES": "1", "PYTHONPATH": str(ROOT),
           "UPLOAD_DIR": str(tmp_path / "uploads"), "LOG_LEVEL": "WARNING"}
    env.pop("FLASK_APP", None)
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own command
        [str(GUNICORN), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                _get(port, "/login")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        log.close()


@pytest.mark.committed(reason="gunicorn is a process of its own: it reads what the test "
                              "committed (the association) through its own connections")
def test_gunicorn_names_no_server_and_sends_hsts_only_over_https(gunicorn):
    for path in ("/login", "/static/app.css", "/nothing-here"):
        plain = _get(gunicorn, path)
        servers = plain.headers.get_all("Server") or []
        assert not any("gunicorn" in value.lower() for value in servers), (path, servers)
        assert plain.headers.get("Strict-Transport-Security") is None, path
    # Behind nginx over HTTPS (X-Forwarded-Proto, trusted with TRUSTED_PROXIES=1): HSTS.
    secure = _get(gunicorn, "/login", {"X-Forwarded-Proto": "https"})
    assert secure.headers.get_all("Strict-Transport-Security") == [HSTS]
    assert secure.headers.get("X-Frame-Options") == "DENY"
    assert "gunicorn" not in (secure.headers.get("Server") or "").lower()
    # nginx's plain-HTTP block only redirects, but were HTTP ever proxied: no HSTS.
    plain = _get(gunicorn, "/login", {"X-Forwarded-Proto": "http"})
    assert plain.headers.get("Strict-Transport-Security") is None
    assert plain.headers.get("Content-Security-Policy")  # the other headers stay


@pytest.mark.committed(reason="a second app (the production configuration) with an engine "
                              "of its own reads the database")
def test_the_app_sends_hsts_only_on_https_requests(app, database_url, monkeypatch,
                                                   setup_association):
    monkeypatch.setenv("DATABASE_URL", database_url)
    prod = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                         "SECRET_KEY": SECRET, "TRUSTED_PROXIES": 1,
                                         "UPLOAD_DIR": app.config["UPLOAD_DIR"],
                                         "RATELIMIT_STORAGE_URI": "memory://"})
    client = prod.test_client()
    http = "http://association.example"  # the test client's default is PREFERRED_URL_SCHEME
    try:
        assert "Strict-Transport-Security" not in client.get("/login", base_url=http).headers
        assert client.get("/login", base_url="https://association.example").headers[
            "Strict-Transport-Security"] == HSTS
        proxied = client.get("/login", base_url=http, headers={"X-Forwarded-Proto": "https"})
        assert proxied.headers["Strict-Transport-Security"] == HSTS
        plain = client.get("/login", base_url=http, headers={"X-Forwarded-Proto": "http"})
        assert "Strict-Transport-Security" not in plain.headers
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                     "Referrer-Policy"):
            assert name in plain.headers, name
    finally:
        with prod.app_context():
            db.engine.dispose()


def test_the_gunicorn_config_is_in_the_image_and_read_by_the_systemd_unit():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "gunicorn.conf.py" in dockerfile
    unit = (ROOT / "deploy" / "systemd" / "association-web.service").read_text()
    assert "WorkingDirectory=/srv/association" in unit and "--config" not in unit
