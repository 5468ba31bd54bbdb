"""Benchmark: the members list (/members) with a large register.

    python bench/members_list.py [--members 20000] [--runs 20] [--database-url URL] [--keep]

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database
named by --database-url or BENCH_DATABASE_URL, whose public schema is dropped
and recreated), migrates it, generates the members with bench/generate.py,
logs in as the chair with the Flask test client and times GET requests on
/members. It prints what it measured and asserts nothing about speed: figures
are read by people, never checked against a number tuned by hand.
"""

import argparse
import gzip
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from importlib.metadata import version as version_of
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import flask  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from association import create_app  # noqa: E402
from association.audit.models import AuditEvent  # noqa: E402
from association.auth.models import Role  # noqa: E402
from association.auth.services import create_user  # noqa: E402
from association.core.phones import display_phone  # noqa: E402
from association.extensions import db  # noqa: E402
from association.members.models import Category, Member, MemberStatus, Zone  # noqa: E402
from bench.generate import DEFAULT_SEED, generate_members  # noqa: E402
from config import TestingConfig, _database_url  # noqa: E402

PASSWORD = "mtaani-demo"
WARMUP_RUNS = 2
SURNAME = "Wekesa"
#: The issue's page-weight target for a 50-row list page with its CSS (printed, not checked).
PAGE_WEIGHT_TARGET = "50-row page + CSS under 60 KB"
FOUND_RE = re.compile(r"(\d+) members? found")
ROW_RE = re.compile(r'<tr><td><a href="/members/\d+">')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20000, help="members to generate")
    parser.add_argument("--zones", type=int, default=10, help="zones to generate")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per request")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL URL (default: BENCH_DATABASE_URL, else a temporary SQLite file); "
        "its public schema is DROPPED and recreated",
    )
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the database afterwards (to run EXPLAIN on it) and print where it is",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="association-bench-"))
    if args.database_url:
        url = _database_url(args.database_url)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        # TestingConfig would otherwise make its own temporary upload folder and leave it.
        "UPLOAD_DIR": tmp / "uploads",
    })
    try:
        return run(app, args)
    finally:
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name == "postgresql" and not args.keep:
                _reset_schema()
            db.engine.dispose()
        if args.keep and url.startswith("sqlite"):
            shutil.rmtree(tmp / "uploads", ignore_errors=True)
            print(f"\nKept the database: {url}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.keep:
                print(f"\nKept the database: {_safe_url(url)}")


def run(app: flask.Flask, args) -> int:
    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            _reset_schema()
        started = time.perf_counter()
        upgrade()
        migrate_s = time.perf_counter() - started

        started = time.perf_counter()
        made = generate_members(args.members, zones=args.zones, seed=args.seed)
        db.session.commit()
        generate_s = time.perf_counter() - started
        audit_events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        if dialect == "postgresql":
            # Autovacuum would analyse the freshly loaded tables within a minute or so;
            # do it now so the plans are the ones a running server would use.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")

        create_user("chair", "Wanjiru Kamau", PASSWORD, {Role.CHAIR}, must_change_password=False)
        db.session.commit()
        version = _server_version(dialect)
        requests = _requests(args.members)
        db.session.remove()

    client = app.test_client()
    response = client.post("/login", data={"login": "chair", "password": PASSWORD})
    if response.status_code not in (302, 303):
        print(f"Could not log in as the chair (HTTP {response.status_code})", file=sys.stderr)
        return 1

    results = []
    for label, url in requests:
        timings, body = [], b""
        for run_no in range(WARMUP_RUNS + args.runs):
            started = time.perf_counter()
            response = client.get(url)
            body = response.get_data()
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                print(f"{url} answered HTTP {response.status_code}", file=sys.stderr)
                return 1
            if run_no >= WARMUP_RUNS:
                timings.append(elapsed * 1000)
        results.append((label, url, _found(body), len(ROW_RE.findall(body.decode())), timings,
                        len(body)))

    first_page = client.get("/members").get_data()
    css_response = client.get("/static/app.css")
    css = css_response.get_data()
    css_response.close()

    _print_report(args, dialect, version, made, migrate_s, generate_s, audit_events, results,
                  first_page, css)
    return 0


def _requests(n_members: int) -> list[tuple[str, str]]:
    """(label, URL) of each request to time, aimed at rows that exist in this database."""
    middle = db.session.scalar(sa.select(Member).where(Member.seq == max(n_members // 2, 1)))
    zone = db.session.scalar(
        sa.select(Zone).join(Member).group_by(Zone.id).order_by(sa.func.count().desc()).limit(1)
    )
    last_page = max(math.ceil(n_members / TestingConfig.MEMBERS_PER_PAGE), 1)
    page = min(200, last_page)

    def members(**params) -> str:
        return "/members" + ("?" + urlencode(params) if params else "")

    return [
        ("first page", members()),
        (f"page {page}", members(page=page)),
        (f"search surname {SURNAME!r}", members(q=SURNAME)),
        (f"search member no. {middle.member_no}", members(q=middle.member_no)),
        (f"search phone {display_phone(middle.phone)}", members(q=display_phone(middle.phone))),
        (f"zone {zone.name!r}", members(zone=zone.id)),
        ("zone + landlord + active", members(
            zone=zone.id, category=Category.LANDLORD.value, status=MemberStatus.ACTIVE.value)),
    ]


def _found(body: bytes) -> int | None:
    match = FOUND_RE.search(body.decode())
    return int(match.group(1)) if match else None


def _p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _server_version(dialect: str) -> str:
    if dialect == "postgresql":
        return "PostgreSQL " + db.session.scalar(sa.text("SHOW server_version"))
    return f"SQLite {sqlite3.sqlite_version}"


def _reset_schema() -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


def _safe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _print_report(args, dialect, version, made, migrate_s, generate_s, audit_events, results,
                  first_page, css) -> None:
    print("Members list benchmark (/members)")
    print(f"  database      {dialect} ({version})"
          + ("" if dialect == "postgresql" else ", temporary file"))
    print(f"  python        {platform.python_version()}, Flask {version_of('flask')}, "
          f"SQLAlchemy {sa.__version__}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  machine       {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) at the end")
    print(f"  data          {made.members:,} members in {len(made.zone_ids)} zones, "
          f"{made.status_changes:,} status-history rows (seed {args.seed})")
    print("  categories    " + ", ".join(f"{k} {v:,}" for k, v in made.by_category.items()))
    print("  statuses      " + ", ".join(f"{k} {v:,}" for k, v in made.by_status.items()))
    print(f"  migrate       {migrate_s:.2f} s")
    print(f"  generate      {generate_s:.2f} s (bulk inserts; audit events written: "
          f"{audit_events})")
    print(f"  timing        {args.runs} runs per request after {WARMUP_RUNS} warm-up runs, "
          "Flask test client, time.perf_counter")
    print()
    label_w = max(len(r[0]) for r in results)
    header = (f"  {'request':<{label_w}}  {'found':>7}  {'rows':>4}  {'median ms':>9}  "
              f"{'p95 ms':>7}  {'min ms':>7}  {'max ms':>7}  {'bytes':>7}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for label, _url, found, rows, timings, size in results:
        print(f"  {label:<{label_w}}  {found if found is not None else '?':>7}  {rows:>4}  "
              f"{statistics.median(timings):>9.1f}  {_p95(timings):>7.1f}  "
              f"{min(timings):>7.1f}  {max(timings):>7.1f}  {size:>7,}")
    print()
    print("  requests:")
    for label, url, *_rest in results:
        print(f"    {label:<{label_w}}  GET {url}")
    print()
    total = len(first_page) + len(css)
    gz_total = len(gzip.compress(first_page)) + len(gzip.compress(css))
    print(f"  page weight   first page HTML {len(first_page):,} B + /static/app.css "
          f"{len(css):,} B = {total:,} B ({total / 1024:.1f} KiB); gzipped {gz_total:,} B")
    print(f"                (the issue's target: {PAGE_WEIGHT_TARGET})")


if __name__ == "__main__":
    sys.exit(main())
