"""The worker process for real: gunicorn serves the callbacks over HTTP, and
``flask --app wsgi worker`` runs as its own process on the same database (the test
database: a SQLite file, or PostgreSQL with TEST_DATABASE_URL).

These tests commit for real (three processes share the database), so the app
fixture's emptying of the database after each test is what isolates them.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from association.extensions import db
from association.ledger.models import Payment, Receipt
from association.mpesa.models import CallbackInbox
from association.worker import WorkerHeartbeat
from tests.mpesa.daraja_helpers import TOKEN, c2b_confirmation

ROOT = Path(__file__).resolve().parents[1]
CONFIRM = f"/hooks/c2b/confirmation/{TOKEN}"


def _env(database_url: str) -> dict:
    env = {**os.environ, "APP_ENV": "testing", "TEST_DATABASE_URL": database_url,
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"}
    env.pop("FLASK_APP", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """The processes a test started, each stopped (killed if need be) at its end."""

    def __init__(self, database_url: str, tmp_path: Path):
        self.env = _env(database_url)
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen] = []

    def start(self, *args: str, log: str) -> subprocess.Popen:
        out = open(self.tmp_path / log, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out,  # noqa: S603
                                   stderr=subprocess.STDOUT)
        process.log_file = out
        process.log_path = self.tmp_path / log
        self.started.append(process)
        return process

    def server(self) -> str:
        port = _free_port()
        process = self.start(sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8",
                             "-b", f"127.0.0.1:{port}", "wsgi:app", log="gunicorn.log")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.log_path.read_text()
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).close()  # noqa: S310
                return url
            except urllib.error.HTTPError:
                return url  # it answers (503: no worker yet)
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer within 60 s")

    def worker(self) -> subprocess.Popen:
        return self.start(sys.executable, "-m", "flask", "--app", "wsgi", "worker",
                          "--poll", "0.1", log="worker.log")

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args],  # noqa: S603
                              cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=300)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(30)
            process.log_file.close()


@pytest.fixture
def processes(app, database_url, tmp_path, setup_association, make_member):
    make_member(first_name="Amina", phone="0712345678")  # MLK-0001
    with app.app_context():
        db.engine.dispose()  # no connection of ours kept open across the others' writes
    started = Processes(database_url, tmp_path)
    yield started
    started.stop_all()  # before the app fixture empties the database


def post(url: str, body: dict) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own server
        url + CONFIRM, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert json.loads(response.read()) == {"ResultCode": 0, "ResultDesc": "Success"}
        return response.status


def post_all(url: str, bodies: list[dict], threads: int = 8) -> list[str]:
    """POST every body from ``threads`` threads; returns the receipts acknowledged."""
    acknowledged, lock, queue = [], threading.Lock(), list(bodies)

    def send():
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            if post(url, body) == 200:
                with lock:
                    acknowledged.append(body["TransID"])

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for each in workers:
        each.start()
    for each in workers:
        each.join(300)
    return acknowledged


def pending(app) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count(CallbackInbox.id)).where(
            CallbackInbox.processed_at.is_(None)))
        db.session.rollback()
        return found


def wait_until(check, timeout: float = 120, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def codes(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Payment.mpesa_code)))
        db.session.rollback()
        return found


def heartbeat(app, pid: int) -> WorkerHeartbeat | None:
    """The worker's heartbeat row once the worker ``pid`` has written it."""
    with app.app_context():
        row = db.session.get(WorkerHeartbeat, "worker", populate_existing=True)
        db.session.rollback()
        return row if row is not None and row.pid == pid else None


def bodies(n: int, prefix: str, repeats: int = 0) -> list[dict]:
    distinct = [c2b_confirmation(receipt=f"{prefix}{i:08d}", account="MLK-0001", amount="50")
                for i in range(n)]
    return distinct + distinct[:repeats]


@pytest.mark.committed(reason="the worker and gunicorn are processes of their own: they "
                               "see only what is committed")
def test_stored_before_acknowledged_then_credited_once_by_the_worker(app, processes):
    url = processes.server()
    sent = bodies(20, "TW", repeats=10)
    acknowledged = post_all(url, sent)
    assert len(acknowledged) == 30
    with app.app_context():  # no worker yet: every acknowledged body is stored, unprocessed
        stored = [json.loads(raw)["TransID"] for raw in db.session.scalars(
            sa.select(CallbackInbox.raw_body).where(CallbackInbox.processed_at.is_(None)))]
        assert sorted(stored) == sorted(acknowledged)
        assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 0
        db.session.rollback()

    worker = processes.worker()
    wait_until(lambda: pending(app) == 0)
    assert sorted(codes(app)) == sorted({b["TransID"] for b in sent})  # each exactly once

    row = wait_until(lambda: (found := heartbeat(app, worker.pid)) and found.processed == 30
                     and found, timeout=30)
    assert row.last_batch_at is not None and row.beat_at >= row.last_batch_at
    with urllib.request.urlopen(url + "/healthz", timeout=10) as response:  # noqa: S310
        assert json.loads(response.read())["checks"]["worker"] == "ok"

    worker.send_signal(signal.SIGTERM)  # stops cleanly
    assert worker.wait(30) == 0
    log = worker.log_path.read_text()
    assert "worker worker stopped (30 processed)" in log
    assert "M-Pesa callbacks: " in log and " processed in " in log  # each batch logged
    assert "0712345678" not in log and "254708374149" not in log and "JANE" not in log
    assert TOKEN not in log


@pytest.mark.committed(reason="the worker and gunicorn are processes of their own: they "
                               "see only what is committed")
def test_a_worker_killed_in_a_batch_loses_and_doubles_nothing(app, processes):
    url = processes.server()
    sent = bodies(300, "TK", repeats=60)
    worker = processes.worker()
    sender = threading.Thread(target=lambda: acknowledged.extend(post_all(url, sent)))
    acknowledged: list[str] = []
    sender.start()
    # Killed once it has credited some and some still wait: mid-stream, most likely
    # inside a batch's transaction (a batch is most of the worker's time under load).
    wait_until(lambda: len(codes(app)) >= 20 and pending(app) > 0, every=0.01)
    worker.send_signal(signal.SIGKILL)
    assert worker.wait(30) == -signal.SIGKILL
    credited_when_killed = len(codes(app))
    sender.join(300)
    assert sorted(acknowledged) == sorted(b["TransID"] for b in sent)
    assert pending(app) > 0 and credited_when_killed < 300

    processes.worker()  # started again
    wait_until(lambda: pending(app) == 0, timeout=300)
    found = codes(app)
    assert sorted(found) == sorted(set(acknowledged))  # every receipt once: none lost, none doubled
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Receipt.id))) == 300
        db.session.rollback()


@pytest.mark.committed(reason="the worker and gunicorn are processes of their own: they "
                               "see only what is committed")
def test_reconcile_processes_what_no_worker_did(app, processes):
    url = processes.server()
    sent = bodies(10, "TR", repeats=3)
    assert len(post_all(url, sent)) == 13
    assert pending(app) == 13  # no worker running
    result = processes.flask("mpesa", "reconcile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert pending(app) == 0
    assert sorted(codes(app)) == sorted({b["TransID"] for b in sent})
    worker = processes.worker()  # nothing left for it: nothing done twice
    wait_until(lambda: heartbeat(app, worker.pid), timeout=60)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert sorted(codes(app)) == sorted({b["TransID"] for b in sent})
