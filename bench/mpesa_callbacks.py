"""Benchmark: paybill confirmation callbacks under gunicorn, with 20% duplicates.

    python bench/mpesa_callbacks.py [--confirmations 2000] [--concurrency 16] [--workers 3]
                                    [--database-url URL]

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database named by
--database-url or BENCH_DATABASE_URL, whose public schema is dropped and recreated),
registers 200 members, starts the app under gunicorn on a free port and the worker
process (``flask worker``) beside it, and POSTs C2B confirmations (Daraja's flat JSON,
every value a string) from ``--concurrency`` client threads: each distinct receipt once,
and 20% of them a second time, shuffled. It prints the rate of callbacks acknowledged
and fully processed, the median and p95 acknowledgement latency, and counts lost or
doubled payments (both must be zero). Figures are printed for people to read, not
checked against a number tuned by hand.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from association import create_app  # noqa: E402
from association.audit.services import acting_as  # noqa: E402
from association.extensions import db  # noqa: E402
from association.ledger.models import Payment  # noqa: E402
from association.members.models import Category, Gender, Member  # noqa: E402
from association.members.services import MemberData, register_members, save_zone  # noqa: E402
from association.mpesa.models import CallbackInbox, MpesaTransaction  # noqa: E402
from association.profile.models import MpesaKind, RegistrationBody  # noqa: E402
from association.profile.services import ProfileData, save_profile  # noqa: E402
from bench.gunicorn_ready import cpu_seconds, wait_until_ready, workers_of  # noqa: E402
from config import TestingConfig, _database_url  # noqa: E402

TOKEN = TestingConfig.MPESA_CALLBACK_TOKEN
DUPLICATE_SHARE = 0.2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--confirmations", type=int, default=2000, help="distinct receipts")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="client connections at a time")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one a core)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    return parser.parse_args(argv)


def prepare(url: str, members: int = 200) -> list[str]:
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), acting_as("bench"):
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        upgrade()
        save_profile(ProfileData(
            name="Bench Association", short_code="BEN",
            registration_body=RegistrationBody.SOCIAL_DEVELOPMENT, registration_number=None,
            county="Nairobi", sub_county="Mathare", ward="Mlango Kubwa", estate="Mabatini",
            contact_phone="0722000457", mpesa_kind=MpesaKind.PAYBILL, mpesa_number="174379",
            fiscal_year_start_month=1))
        zone = save_zone("Mabatini", None)
        register_members([MemberData(
            first_name="Member", other_names=f"No {i}", phone=f"0712{i:06d}",
            gender=Gender.FEMALE, year_of_birth=1990, category=Category.RESIDENT,
            zone_id=zone.id, plot=None, house=None, joined_on=date(2025, 1, 1))
            for i in range(members)])
        db.session.commit()
        numbers = db.session.scalars(sa.select(Member.member_no)).all()
        db.engine.dispose()
    return numbers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def confirmation(receipt: str, account: str) -> bytes:
    return json.dumps({
        "TransactionType": "Pay Bill", "TransID": receipt, "TransTime": "20260301183012",
        "TransAmount": "50.00", "BusinessShortCode": "174379", "BillRefNumber": account,
        "InvoiceNumber": "", "OrgAccountBalance": "12500.00", "ThirdPartyTransID": "",
        "MSISDN": "9f2c0d7e1b6a4c3f8e5d2a1b0c9f8e7d6c5b4a3928172635445362718190a0b1",
        "FirstName": "JANE", "MiddleName": "", "LastName": ""}).encode()


async def send(port: int, path: str, stream: list[tuple[str, str]],
               concurrency: int) -> tuple[list[float], list[str]]:
    """POST every confirmation of ``stream`` once, ``concurrency`` at a time, each on a new
    connection as Daraja's own callbacks come. Returns the acknowledgement latencies and
    what failed. One thread with asyncio: the client's CPU stays small beside the server's."""
    latencies, failures = [], []
    items = iter(stream)

    async def client():
        for receipt, account in items:  # one shared iterator: each item is sent once
            body = confirmation(receipt, account)
            request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                       "Connection: close\r\n\r\n").encode() + body
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                answer = await asyncio.wait_for(reader.read(), 60)  # to the server's close
                writer.close()
                head, _, payload = answer.partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200 ") or json.loads(payload)["ResultCode"]:
                    failures.append(f"{receipt}: {answer[:60]!r}")
            except (OSError, TimeoutError, ValueError, KeyError) as error:
                failures.append(f"{receipt}: {error!r}")
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, failures


def run(args) -> int:
    tmp = None
    url = _database_url(args.database_url) if args.database_url else None
    if url is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-mpesa-"))
        url = f"sqlite:///{tmp}/bench.sqlite3"
    numbers = prepare(url)
    rng = random.Random(2026)
    receipts = [f"TB{n:08d}" for n in range(args.confirmations)]
    stream = [(r, rng.choice(numbers).lower().replace("-", " ")) for r in receipts]
    stream += rng.sample(stream, int(len(stream) * DUPLICATE_SHARE))
    rng.shuffle(stream)
    port = free_port()
    env = {**os.environ, "APP_ENV": "testing", "TEST_DATABASE_URL": url,
           "PYTHONPATH": str(ROOT)}
    if url.startswith("sqlite"):
        env.pop("TEST_DATABASE_URL")
        env["BENCH_SQLITE_URL"] = url
    ready = Path(tempfile.mkdtemp(prefix="bench-ready-"))
    env["BENCH_READY_DIR"] = str(ready)
    server = subprocess.Popen(  # noqa: S603 - our own app under gunicorn
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_ready.py"),
         "-w", str(args.workers), "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "bench.mpesa_callbacks:wsgi_app()"], cwd=ROOT, env=env)
    # The worker process credits what gunicorn stores, as `flask --app wsgi worker` does.
    worker = subprocess.Popen(  # noqa: S603 - our own worker
        [sys.executable, "-m", "flask", "--app", "bench.mpesa_callbacks:wsgi_app()", "worker"],
        cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"})  # not a line for each batch
    path = f"/hooks/c2b/confirmation/{TOKEN}"
    try:
        booted = wait_until_ready(ready, args.workers, server)
        watcher = sa.create_engine(url)
        wait_for_heartbeat(watcher, worker)  # the worker loaded: its start is not counted
        boot_cpu = server_cpu_seconds(server.pid, worker.pid)
        started = time.perf_counter()
        client_started = time.process_time()
        latencies, failures = asyncio.run(send(port, path, stream, args.concurrency))
        acked = time.perf_counter() - started
        client_cpu = time.process_time() - client_started
        # "Processed" is measured, not assumed: wait until no stored body is left untried.
        unprocessed = sa.text("SELECT count(*) FROM mpesa_callback_inbox "
                              "WHERE processed_at IS NULL AND attempts = 0")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with watcher.connect() as conn:
                if conn.execute(unprocessed).scalar() == 0:
                    break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        watcher.dispose()
        cpu = server_cpu_seconds(server.pid, worker.pid) - boot_cpu
    finally:
        for process in (worker, server):
            process.send_signal(signal.SIGTERM)
        for process in (worker, server):
            process.wait(30)
        shutil.rmtree(ready, ignore_errors=True)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        codes = db.session.scalars(sa.select(Payment.mpesa_code)).all()
        unprocessed = db.session.scalar(sa.select(sa.func.count(CallbackInbox.id)).where(
            CallbackInbox.processed_at.is_(None)))
        transactions = db.session.scalar(sa.select(sa.func.count(MpesaTransaction.id)))
        dialect = db.engine.dialect.name
        db.engine.dispose()
    lost = len(set(receipts) - set(codes))
    doubled = len(codes) - len(set(codes))
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    print(f"database: {dialect}; gunicorn {args.workers} workers x {args.threads} threads "
          f"(ready {booted:.1f} s after starting, {boot_cpu:.1f} s of CPU: not counted); "
          f"{args.concurrency} client connections at a time, a new one a callback")
    print(f"callbacks sent: {len(stream)} ({len(receipts)} receipts, "
          f"{len(stream) - len(receipts)} duplicates); failed requests: {len(failures)}"
          + (f" (e.g. {failures[0]})" if failures else ""))
    print(f"rate: {len(stream) / wall:.0f} callbacks/s acknowledged and processed "
          f"({wall:.1f} s; the last acknowledgement after {acked:.1f} s)")
    print(f"server CPU: {cpu * 1000 / len(stream):.1f} ms a callback "
          f"({cpu:.1f} s over gunicorn's processes and the worker); client CPU: "
          f"{client_cpu * 1000 / len(stream):.1f} ms a callback; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"ack latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms")
    print(f"payments: {len(codes)}; transactions: {transactions}; unprocessed inbox rows: "
          f"{unprocessed}; lost: {lost}; doubled: {doubled}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if lost == 0 and doubled == 0 else 1


def wait_for_heartbeat(engine, worker: subprocess.Popen, timeout: float = 120) -> None:
    """Until the worker process has written its first heartbeat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} while starting")
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT count(*) FROM worker_heartbeat")).scalar():
                return
        time.sleep(0.05)
    raise RuntimeError(f"the worker wrote no heartbeat within {timeout:.0f} s")


def server_cpu_seconds(pid: int, worker: int) -> float:
    """User + system CPU of gunicorn's master, its workers and the worker process so far
    (Linux /proc)."""
    return sum(cpu_seconds(each) for each in [pid, *workers_of(pid), worker])


def wsgi_app():
    """The app for gunicorn, on the benchmark's database."""
    overrides = {}
    if os.environ.get("BENCH_SQLITE_URL"):
        overrides["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_SQLITE_URL"]
    return create_app(TestingConfig, overrides)


if __name__ == "__main__":
    sys.exit(run(parse_args()))
