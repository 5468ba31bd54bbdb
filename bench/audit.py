"""Benchmark: the auditor's page (/audit) with a long audit trail, before and after issue 20.

    python bench/audit.py [--members 20000] [--events 27628] [--runs 10] [--database-url URL]

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database named by
--database-url or BENCH_DATABASE_URL, whose public schema is dropped and recreated),
migrates it, generates the members with bench/generate.py and tops the trail up to
``--events`` events, then times, logged in as the chair:

- *before*: the page as it was, recomputing the whole chain on every view (timed as
  ``verify_chain()`` plus the page with no checkpoint, which verifies from the first event);
- *after*: the page with the day's checkpoint made and 200 events since it;
- the full verification ("Verify everything", ``flask audit verify``) for comparison.

It prints what it measured and asserts nothing about speed.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from association import create_app  # noqa: E402
from association.audit.checkpoints import daily_checkpoint  # noqa: E402
from association.audit.models import AuditEvent  # noqa: E402
from association.audit.services import acting_as, write_events  # noqa: E402
from association.audit.verification import verify_everything  # noqa: E402
from association.auth.models import Role  # noqa: E402
from association.auth.services import create_user  # noqa: E402
from association.extensions import db  # noqa: E402
from bench.generate import DEFAULT_SEED, generate_members  # noqa: E402
from config import TestingConfig, _database_url  # noqa: E402

PASSWORD = "mtaani-demo"
WARMUP_RUNS = 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20000, help="members to generate")
    parser.add_argument("--events", type=int, default=27628,
                        help="audit events to reach (the issue measured 27,628)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measure")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL URL (default: a temporary SQLite file); its public "
                             "schema is DROPPED and recreated")
    return parser.parse_args(argv)


def _events() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def _top_up(target: int) -> None:
    """Synthetic events (shaped like a member's update) until the trail has ``target``."""
    missing = target - _events()
    while missing > 0:
        n = min(missing, 5000)
        write_events(db.session.connection(), [
            ("update", "member", str(i), {"other_names": "Wanjiku"},
             {"other_names": f"Wanjiku {i}"}, None, "bench") for i in range(n)])
        db.session.commit()
        missing -= n


def _time(fn, runs: int) -> tuple[float, float]:
    for _ in range(WARMUP_RUNS):
        fn()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings)


def main(argv=None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="association-bench-"))
    url = (_database_url(args.database_url) if args.database_url
           else f"sqlite:///{tmp / 'bench.sqlite3'}")
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                                     "UPLOAD_DIR": tmp / "uploads"})
    try:
        with app.app_context():
            dialect = db.engine.dialect.name
            if dialect == "postgresql":
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
            upgrade()
            generate_members(args.members, seed=DEFAULT_SEED)
            db.session.commit()
            create_user("chair", "Wanjiru Kamau", PASSWORD, {Role.CHAIR},
                        must_change_password=False)
            db.session.commit()
            _top_up(args.events - 200)
            total = _events()
            from association.audit.services import verify_chain

            chain_ms = _time(verify_chain, args.runs)
            db.session.remove()

        client = app.test_client()
        response = client.post("/login", data={"login": "chair", "password": PASSWORD})
        if response.status_code not in (302, 303):
            print(f"Could not log in as the chair (HTTP {response.status_code})",
                  file=sys.stderr)
            return 1

        def page():
            assert client.get("/audit").status_code == 200

        before = _time(page, args.runs)
        with app.app_context(), acting_as("bench"):
            daily_checkpoint()
            db.session.commit()
            _top_up(args.events)
            after_events = _events()
        after = _time(page, args.runs)
        with app.app_context():
            full = _time(lambda: verify_everything(), max(1, args.runs // 5))
            db.session.remove()

        print(f"/audit page, {dialect}, median and worst of {args.runs} runs (ms)")
        print(f"{'measure':<72} {'median':>8} {'worst':>8}")
        rows = [
            (f"verify_chain() alone, {total} events", chain_ms),
            (f"BEFORE: /audit verifying the whole chain, {total} events", before),
            (f"AFTER: /audit from the day's checkpoint, {after_events} events "
             f"(200 since it)", after),
            (f"full verification (chain, entries, month totals), {after_events} events", full),
        ]
        for label, (median, worst) in rows:
            print(f"{label:<72} {median:>8.1f} {worst:>8.1f}")
        return 0
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
