"""Benchmark: the dues ledger with years of books for a large association.

    python bench/ledger.py [--members 20000] [--months 60] [--database-url URL] [--keep]

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database
named by --database-url or BENCH_DATABASE_URL, whose public schema is dropped
and recreated), migrates it, generates the members and ``--months`` months of
dues, payments and receipts with bench/generate.py (about two million postings
at full size), checks that the books are consistent, then measures, each in a
fresh Python process so that its peak memory is its own:

- the dues run for the next month for all members (``bill_month``, audited and
  committed), twice: the second run must charge nobody;
- the trial balance (``trial_balance.trial_balance``);
- a member statement over the whole history (``reports.member_statement_data``
  + ``statement_report``, and the statement page through the Flask test client);
- the arrears list (``reports.arrears``);
- 1,000 receipt PDFs (``receipt_pdf.render_receipt_pdf``, one PDF each) and the same
  1,000 receipts as one PDF (``render_receipts_pdf``);
- the hledger journal export (``exports.hledger_journal``) and ``hledger -f FILE
  bal`` on it, printed next to the trial balance.

It prints what it measured, next to the issue's targets, and asserts nothing
about speed: figures are read by people, never checked against a number tuned
by hand. It exits 0 whatever the figures are, and 1 only when it could not
measure (inconsistent generated books, a measurement that failed).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from importlib.metadata import version as version_of
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from association import create_app  # noqa: E402
from association.audit.models import AuditEvent  # noqa: E402
from association.audit.services import acting_as  # noqa: E402
from association.auth.models import Role  # noqa: E402
from association.auth.services import create_user  # noqa: E402
from association.core.time import month_start, today_in_nairobi  # noqa: E402
from association.extensions import db  # noqa: E402
from association.ledger import accounts, dues, trial_balance  # noqa: E402
from association.ledger.models import DuesCharge, Receipt  # noqa: E402
from association.members.models import Member  # noqa: E402
from bench.generate import DEFAULT_SEED, generate_ledger  # noqa: E402
from config import TestingConfig, _database_url  # noqa: E402

PASSWORD = "mtaani-demo"
RECEIPTS = 1000
#: (measurement key, label, the issue's target in seconds or None).
MEASUREMENTS = (
    ("dues", "dues run, next month, all members", 10.0),
    ("dues_again", "dues run again (charges nobody)", None),
    ("trial_balance", "trial balance", 1.0),
    ("hledger_bal", "hledger -f FILE bal (same books)", None),
    ("hledger_export", "export hledger journal", None),
    ("statement", "member statement, 5 years (service)", 0.050),
    ("statement_page", "member statement page (HTTP)", 0.050),
    ("arrears", "arrears list", None),
    ("receipts", f"{RECEIPTS:,} receipt PDFs, one each", 10.0),
    ("receipts_one_pdf", f"{RECEIPTS:,} receipts in one PDF", None),
)
#: Which child process measures what (each child is a fresh process).
CHILDREN = ("dues", "trial_balance", "statement", "arrears", "receipts", "hledger")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20000, help="members to generate")
    parser.add_argument("--months", type=int, default=60, help="months of books to generate")
    parser.add_argument("--zones", type=int, default=10, help="zones to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="PostgreSQL URL (default: BENCH_DATABASE_URL, else a temporary SQLite file); "
        "its public schema is DROPPED and recreated",
    )
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the database (and the exported journal) afterwards and print where they are",
    )
    parser.add_argument(
        "--only", type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(CHILDREN),
        help=f"measure only these, comma-separated (of {', '.join(CHILDREN)})")
    # Internal: a child process that takes one measurement on the generated database.
    parser.add_argument("--measure", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--member-id", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_app(url: str, tmp: Path):
    return create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": url,
        "WTF_CSRF_ENABLED": False,
        # TestingConfig would otherwise make its own temporary upload folder and leave it.
        "UPLOAD_DIR": tmp / "uploads",
    })


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.measure:
        return child(args)
    if unknown := sorted(set(args.only) - set(CHILDREN)):
        print(f"--only: unknown {', '.join(unknown)} (choose from {', '.join(CHILDREN)})",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="association-bench-"))
    if args.database_url:
        url = _database_url(args.database_url)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = make_app(url, tmp)
    try:
        return run(app, url, tmp, args)
    finally:
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name == "postgresql" and not args.keep:
                _reset_schema()
            db.engine.dispose()
        if args.keep:
            shutil.rmtree(tmp / "uploads", ignore_errors=True)
            print(f"\nKept the database: {_safe_url(url)}")
            print(f"Kept the exported journal: {tmp / 'books.journal'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- The parent: build the books, run the measurements, print -----------------------------


def run(app, url: str, tmp: Path, args) -> int:
    today = date.today()
    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            _reset_schema()
        started = time.perf_counter()
        upgrade()
        migrate_s = time.perf_counter() - started

        print(f"Generating {args.members:,} members and {args.months} months of books...",
              flush=True)
        started = time.perf_counter()
        made = generate_ledger(args.months, seed=args.seed, members=args.members,
                               zones=args.zones, today=today,
                               progress=lambda text: print(text, flush=True))
        db.session.commit()
        generate_s = time.perf_counter() - started
        generate_rss = _rss()
        audit_events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        analyse_s = None
        if dialect == "postgresql":
            # Autovacuum would vacuum and analyse the freshly loaded tables soon after a
            # bulk load; do it now so the plans are the ones a running server would use.
            started = time.perf_counter()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
            analyse_s = time.perf_counter() - started
        create_user("chair", "Wanjiru Kamau", PASSWORD, {Role.CHAIR}, must_change_password=False)
        db.session.commit()
        version = _server_version(dialect)
        size = _database_size(dialect, url)
        db.session.remove()
        db.engine.dispose()

    _print_data(args, dialect, version, made, migrate_s, generate_s, analyse_s, audit_events,
                size, generate_rss)
    if not made.consistent:
        print("\nThe generated books are not consistent: not measuring.", file=sys.stderr)
        return 1

    results: dict[str, dict] = {}
    failed = []
    for name in (name for name in CHILDREN if name in args.only):
        print(f"  measuring {name}... (load average {os.getloadavg()[0]:.2f})", flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--measure", name,
                   "--url", url, "--tmp", str(tmp), "--member-id", str(made.busiest_member_id)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not found:
            failed.append(name)
            print(f"  {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}",
                  file=sys.stderr)
            continue
        results.update(json.loads(found[-1][len("RESULT "):]))
    _print_results(results)
    return 1 if failed else 0


def _print_data(args, dialect, version, made, migrate_s, generate_s, analyse_s, audit_events,
                size, generate_rss) -> None:
    m = made.members
    print()
    print("Dues ledger benchmark")
    print(f"  database      {dialect} ({version})"
          + ("" if dialect == "postgresql" else ", temporary file")
          + (f", {size / 2**20:,.0f} MiB" if size else ""))
    print(f"  python        {platform.python_version()}, Flask {version_of('flask')}, "
          f"SQLAlchemy {sa.__version__}, reportlab {version_of('reportlab')}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  machine       {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) "
          "after generating")
    print(f"  members       {m.members:,} in {len(m.zone_ids)} zones (seed {args.seed}); "
          + ", ".join(f"{k} {v:,}" for k, v in m.by_status.items()))
    print(f"  books         {made.months} months, {made.first_month:%Y-%m} to "
          f"{made.last_month:%Y-%m}")
    print(f"  postings      {made.postings:,} in {made.entries:,} journal entries")
    print(f"  dues charges  {made.charges:,}, charged KES {made.charged_cents / 100:,.2f}")
    print(f"  payments      {made.payments:,} ("
          + ", ".join(f"{k} {v:,}" for k, v in made.payments_by_method.items())
          + f"), paid KES {made.paid_cents / 100:,.2f}; {made.allocations:,} allocations")
    print("  receipts      " + ", ".join(f"{y}: {n:,}" for y, n in made.receipts_by_year.items()))
    print("  habits        " + ", ".join(f"{k} {v:,}" for k, v in made.habits.items()))
    print(f"  migrate       {migrate_s:.1f} s")
    print(f"  generate      {generate_s:.1f} s (bulk inserts and the checks below; audit events "
          f"written: {audit_events}, for the chart and the rate schedule only); "
          f"peak RSS {_mib(generate_rss)}")
    if analyse_s is not None:
        print(f"  VACUUM ANALYZE {analyse_s:.1f} s")
    print("  consistency of the generated books:")
    for check in made.checks:
        print(f"    {'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")


def _print_results(results: dict) -> None:
    print()
    print("  Each measurement runs in a fresh process. time: one run, or the median of the")
    print("  runs shown. tracemalloc: the peak of Python allocations during one more run")
    print("  with tracemalloc on. peak RSS: the process's peak resident memory (VmHWM)")
    print("  during the timed runs; it starts at the 'base' shown below the table.")
    print()
    header = (f"  {'measurement':<38}  {'time':>10}  {'target':>8}  {'result':<11}  "
              f"{'tracemalloc':>11}  {'peak RSS':>10}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for key, label, target in MEASUREMENTS:
        r = results.get(key)
        if r is None:
            print(f"  {label:<38}  {'not measured':>10}")
            continue
        if r.get("seconds") is None:
            print(f"  {label:<38}  {'-':>10}  {_time(target):>8}  {'not measured':<11}")
            continue
        verdict = "" if target is None else (
            "ok" if r["seconds"] <= target else "over target")
        print(f"  {label:<38}  {_time(r['seconds']):>10}  {_time(target):>8}  {verdict:<11}  "
              f"{_mib(r.get('tracemalloc')):>11}  {_mib(r.get('maxrss')):>10}")
    print()
    bases = sorted({r["base_rss"] for r in results.values() if r.get("base_rss")})
    if bases:
        print(f"  base: a fresh process with the app loaded had {_mib(min(bases))} to "
              f"{_mib(max(bases))} resident before measuring.")
    for key, label, _target in MEASUREMENTS:
        r = results.get(key)
        if r and r.get("notes"):
            print(f"  {label}:")
            for note in r["notes"]:
                print(f"    {note}")


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.1f} MiB"


def _server_version(dialect: str) -> str:
    if dialect == "postgresql":
        return "PostgreSQL " + db.session.scalar(sa.text("SHOW server_version"))
    return f"SQLite {sqlite3.sqlite_version}"


def _database_size(dialect: str, url: str) -> int | None:
    if dialect == "postgresql":
        return db.session.scalar(sa.text("SELECT pg_database_size(current_database())"))
    path = Path(sa.engine.make_url(url).database or "")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) if path.name else None


def _reset_schema() -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


def _safe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


# --- The children: one measurement each --------------------------------------------------


def _rss() -> int:
    """This process's peak resident memory so far, in bytes.

    On Linux ``ru_maxrss`` (RUSAGE_SELF) is carried over ``exec`` from the process
    that started this one, so here it would show the generator's peak; VmHWM in
    /proc/self/status is this program's own. ``ru_maxrss`` is used where there is
    no /proc.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _traced(fn) -> int:
    """The peak of Python allocations while ``fn`` runs once (tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _timed(fn, runs: int) -> tuple[list[float], object]:
    timings, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        timings.append(time.perf_counter() - started)
    return timings, value


def _runs_note(timings: list[float], every: bool = False) -> str:
    ms = [f"{t * 1000:.1f}" for t in timings]
    text = (f"{len(timings)} runs, median {statistics.median(timings) * 1000:.1f} ms "
            f"(first {ms[0]}, min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f} ms)")
    return text + (f"; in order: {', '.join(ms)}" if every else "")


def child(args) -> int:
    tmp = Path(args.tmp)
    app = make_app(args.url, tmp)
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        base = _rss()
        measured = MEASURE[args.measure](app, tmp, args)
        db.session.remove()
        db.engine.dispose()
    for result in measured.values():
        result.setdefault("base_rss", base)
    print("RESULT " + json.dumps(measured, default=str))
    return 0


def measure_dues(app, tmp, args) -> dict:
    last = db.session.scalar(sa.select(sa.func.max(DuesCharge.month)))
    month = _next_month(last)

    def rehearse():
        with acting_as("bench"):
            dues.bill_month(month)
            db.session.flush()
        db.session.rollback()

    # Peak memory first, on a run of the same month that is rolled back (a month
    # still to come cannot be billed, so there is no other month to rehearse on).
    peak = _traced(rehearse)
    events_before = _count(AuditEvent)
    with acting_as("bench"):
        started = time.perf_counter()
        first = dues.bill_month(month)
        billed = time.perf_counter()
        db.session.commit()
        committed = time.perf_counter()
    events = _count(AuditEvent) - events_before
    rss = _rss()
    with acting_as("bench"):
        started_again = time.perf_counter()
        again = dues.bill_month(month)
        db.session.commit()
        again_s = time.perf_counter() - started_again
    rss_again = _rss()
    return {
        "dues": {
            "seconds": committed - started, "maxrss": rss, "tracemalloc": peak,
            "notes": [
                f"month {month:%Y-%m}: {first.charged:,} members charged KES "
                f"{first.total_cents / 100:,.2f}; credit applied KES "
                f"{first.credit_applied_cents / 100:,.2f}; not active {first.not_active:,}, "
                f"joined later {first.joined_later:,}",
                f"bill_month {billed - started:.2f} s + commit {committed - billed:.2f} s; "
                f"{events:,} audit events written",
                "tracemalloc: a rehearsal of the same month before it, rolled back",
            ],
        },
        "dues_again": {
            "seconds": again_s, "maxrss": rss_again, "tracemalloc": None,
            "notes": [f"charged {again.charged}, already charged {again.already_charged:,}"],
        },
    }


def measure_trial_balance(app, tmp, args) -> dict:
    timings, tb = _timed(trial_balance.trial_balance, 5)
    rss = _rss()
    peak = _traced(trial_balance.trial_balance)
    return {"trial_balance": {
        "seconds": statistics.median(timings), "maxrss": rss, "tracemalloc": peak,
        "notes": [_runs_note(timings),
                  f"{len(tb.rows)} accounts; debits KES {tb.total_debit_cents / 100:,.2f} = "
                  f"credits KES {tb.total_credit_cents / 100:,.2f}"],
    }}


def measure_statement(app, tmp, args) -> dict:
    from association.ledger import reports

    member = db.session.get(Member, args.member_id)
    first = db.session.scalar(sa.select(sa.func.min(DuesCharge.month)))
    period = reports.Period(first, today_in_nairobi())
    results = {}
    if hasattr(reports, "member_statement_data") and hasattr(reports, "statement_report"):
        def statement():
            db.session.expire_all()  # each run reads the books, as a new request would
            data = reports.member_statement_data(db.session.get(Member, member.id), period)
            return data, reports.statement_report(data)

        statement()  # warm-up: the first call compiles the SQL
        timings, (data, _report) = _timed(statement, 20)
        rss = _rss()
        peak = _traced(statement)
        results["statement"] = {
            "seconds": statistics.median(timings), "maxrss": rss, "tracemalloc": peak,
            "notes": [f"{member.member_no}, {period.start} to {period.end}: "
                      f"{len(data.lines)} lines, {len(data.receipts)} receipts, "
                      f"{len(data.open_charges)} unpaid months",
                      "reports.member_statement_data + statement_report, after 1 warm-up; "
                      + _runs_note(timings, every=True)],
        }
    else:
        results["statement"] = _statement_query(member, period)

    if "reports.statement" in app.view_functions:
        client = app.test_client()
        response = client.post("/login", data={"login": "chair", "password": PASSWORD})
        if response.status_code not in (302, 303):
            raise RuntimeError(f"could not log in as the chair (HTTP {response.status_code})")
        url = f"/members/{member.id}/statement?from={period.start}&to={period.end}"

        def page():
            response = client.get(url)
            body = response.get_data()
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered HTTP {response.status_code}")
            return body

        page()
        timings, body = _timed(page, 20)
        rss = _rss()
        peak = _traced(page)
        results["statement_page"] = {
            "seconds": statistics.median(timings), "maxrss": rss, "tracemalloc": peak,
            "notes": [f"GET {url}: {len(body):,} bytes; Flask test client, after 1 warm-up; "
                      + _runs_note(timings, every=True)],
        }
    return results


def _statement_query(member, period) -> dict:
    """Without the reports module: the member's receivable and credit postings by date,
    with a running balance."""
    from association.ledger.models import JournalEntry, Posting, Side

    ids = (accounts.account("dues_receivable").id, accounts.account("member_credit").id)
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    stmt = (sa.select(JournalEntry.entry_date, JournalEntry.memo, Posting.account_id, signed)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.member_id == member.id, Posting.account_id.in_(ids))
            .order_by(JournalEntry.entry_date, JournalEntry.id, Posting.id))

    def statement():
        balance, lines = 0, []
        for day, memo, _account, amount in db.session.execute(stmt):
            balance += int(amount)
            lines.append((day, memo, int(amount), balance))
        return lines

    statement()
    timings, lines = _timed(statement, 20)
    return {"seconds": statistics.median(timings), "maxrss": _rss(),
            "tracemalloc": _traced(statement),
            "notes": [f"reports.member_statement_data not found: timed the query of "
                      f"{member.member_no}'s receivable and credit postings with a running "
                      f"balance ({len(lines)} lines)", _runs_note(timings)]}


def measure_arrears(app, tmp, args) -> dict:
    from association.ledger import reports

    if hasattr(reports, "arrears"):
        def arrears():
            return reports.arrears(today_in_nairobi())
        how = "reports.arrears"
    else:
        arrears, how = _arrears_query, "an aggregate of open charges by member and zone"
    arrears()  # warm-up
    timings, report = _timed(arrears, 3)
    rss = _rss()
    peak = _traced(arrears)
    figures = getattr(report, "figures", None) or {}
    notes = [f"{how}; 1 warm-up, " + _runs_note(timings)]
    if figures:
        notes.append(f"{figures.get('members', 0):,} members in arrears, KES "
                     f"{figures.get('total', 0) / 100:,.2f} owed")
    return {"arrears": {"seconds": statistics.median(timings), "maxrss": rss,
                        "tracemalloc": peak, "notes": notes}}


def _arrears_query():
    from association.members.models import Zone

    this_month = month_start(today_in_nairobi())
    year, month = divmod(this_month.year * 12 + this_month.month - 1 - 2, 12)
    three = date(year, month + 1, 1)
    open_ = DuesCharge.open_cents
    stmt = (sa.select(Zone.name, Member.member_no,
                      sa.func.sum(sa.case((DuesCharge.month >= this_month, open_), else_=0)),
                      sa.func.sum(sa.case((sa.and_(DuesCharge.month < this_month,
                                                   DuesCharge.month >= three), open_), else_=0)),
                      sa.func.sum(sa.case((DuesCharge.month < three, open_), else_=0)))
            .join(Member, Member.id == DuesCharge.member_id).join(Zone)
            .where(open_ > 0).group_by(Zone.name, Member.member_no)
            .order_by(Zone.name, Member.member_no))
    return db.session.execute(stmt).all()


def measure_receipts(app, tmp, args) -> dict:
    from association.ledger import receipt_pdf

    if not hasattr(receipt_pdf, "render_receipt_pdf"):
        return {"receipts": {"seconds": None, "notes": [
            "association.ledger.receipt_pdf has no render_receipt_pdf yet: not measured"]}}
    ids = list(db.session.scalars(sa.select(Receipt.id).order_by(Receipt.id.desc())
                                  .limit(RECEIPTS)))

    def one_each(chosen):
        sizes = []
        for receipt_id in chosen:
            sizes.append(len(receipt_pdf.render_receipt_pdf(db.session.get(Receipt, receipt_id))))
        db.session.expire_all()
        return sizes

    receipt_pdf.render_receipt_pdf(db.session.get(Receipt, ids[0]))  # warm-up: fonts, templates
    started = time.perf_counter()
    sizes = one_each(ids)
    each_s = time.perf_counter() - started
    rss = _rss()
    # Separate PDFs do not pile up in memory: the peak over the first 100 is the peak.
    peak = _traced(lambda: one_each(ids[:100]))
    results = {"receipts": {
        "seconds": each_s, "maxrss": rss, "tracemalloc": peak,
        "notes": [f"the {len(ids):,} latest receipts, A5, English, one PDF each (as 1,000 "
                  f"downloads): {sum(sizes) / 2**20:,.1f} MiB, "
                  f"{sum(sizes) / len(sizes) / 1024:,.1f} KiB a receipt; "
                  f"{each_s / len(ids) * 1000:.1f} ms a receipt; tracemalloc over 100 of them"],
    }}
    if hasattr(receipt_pdf, "render_receipts_pdf"):
        started = time.perf_counter()
        pdf = receipt_pdf.render_receipts_pdf(ids)
        one_s = time.perf_counter() - started
        rss = _rss()
        peak = _traced(lambda: receipt_pdf.render_receipts_pdf(ids))
        results["receipts_one_pdf"] = {
            "seconds": one_s, "maxrss": rss, "tracemalloc": peak,
            "notes": [f"render_receipts_pdf: one A5 PDF of {len(ids):,} pages, "
                      f"{len(pdf) / 2**20:,.1f} MiB"],
        }
    return results


def measure_hledger(app, tmp, args) -> dict:
    try:
        from association.ledger import exports
    except ImportError:
        exports = None
    if exports is None or not hasattr(exports, "hledger_journal"):
        note = "association.ledger.exports has no hledger_journal yet: not measured"
        return {"hledger_export": {"seconds": None, "notes": [note]},
                "hledger_bal": {"seconds": None, "notes": [note]}}
    journal = tmp / "books.journal"

    def export():
        with journal.open("w", encoding="utf-8") as out:
            for piece in exports.hledger_journal(None, None):
                out.write(piece)

    started = time.perf_counter()
    export()
    export_s = time.perf_counter() - started
    rss = _rss()
    peak = _traced(export)
    results = {"hledger_export": {
        "seconds": export_s, "maxrss": rss, "tracemalloc": peak,
        "notes": [f"exports.hledger_journal(None, None) to a file: "
                  f"{journal.stat().st_size / 2**20:,.0f} MiB"],
    }}
    hledger = shutil.which("hledger")
    if hledger is None:
        results["hledger_bal"] = {"seconds": None, "notes": ["hledger is not installed"]}
        return results
    version = subprocess.run([hledger, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    started = time.perf_counter()
    done = subprocess.run([hledger, "-f", str(journal), "bal"], capture_output=True, text=True,
                          check=False)
    bal_s = time.perf_counter() - started
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    lines = done.stdout.rstrip().splitlines()
    notes = [f"{version}; exit {done.returncode}; {len(lines):,} lines of output, "
             f"the last: {lines[-1].strip() if lines else '(none)'!r}",
             "peak RSS here is hledger's own (ru_maxrss of the waited-for children)"]
    if done.returncode != 0:
        notes.append(done.stderr.strip()[-500:])
    results["hledger_bal"] = {"seconds": bal_s, "maxrss": child_rss, "tracemalloc": None,
                              "notes": notes}
    return results


def _next_month(day: date) -> date:
    year, month = divmod(day.year * 12 + day.month, 12)
    return date(year, month + 1, 1)


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


MEASURE = {
    "dues": measure_dues,
    "trial_balance": measure_trial_balance,
    "statement": measure_statement,
    "arrears": measure_arrears,
    "receipts": measure_receipts,
    "hledger": measure_hledger,
}


if __name__ == "__main__":
    sys.exit(main())
