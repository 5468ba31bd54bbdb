"""Benchmark: matching M-Pesa payments to members, and importing a large statement.

    python bench/mpesa_imports.py [--members 20000] [--rows 10000] [--database-url URL]

Builds a fresh database (a temporary SQLite file, or the PostgreSQL database named
by --database-url or BENCH_DATABASE_URL, whose public schema is dropped and
recreated), migrates it, generates the members with bench/generate.py, then times:

- building the member index (every member number, phone and phone hash);
- one callback's match by hashed MSISDN and by a sloppy account number (the
  callback path: indexed queries plus the cached hash index);
- a statement of --rows payments (CSV, the org portal's columns): reading it,
  the preview (matching every row and checking the books for every code), and
  the confirmation in parts of imports.BATCH_ROWS (every transaction written,
  matched ones credited with a receipt), then the same statement again
  (everything already in the books).

It prints what it measured and asserts nothing about speed.
"""

import argparse
import csv
import hashlib
import io
import os
import random
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
from association.audit.services import acting_as  # noqa: E402
from association.extensions import db  # noqa: E402
from association.ledger.models import Payment  # noqa: E402
from association.members.models import Member, MemberStatus  # noqa: E402
from association.mpesa import import_parsing, imports, matching  # noqa: E402
from association.mpesa.models import MpesaTransaction  # noqa: E402
from bench.generate import DEFAULT_SEED, generate_members  # noqa: E402
from config import TestingConfig, _database_url  # noqa: E402

HEADER = ["Receipt No.", "Completion Time", "Initiation Time", "Details", "Transaction Status",
          "Paid In", "Withdrawn", "Balance", "Balance Confirmed", "Reason Type",
          "Other Party Info", "Linked Transaction ID", "A/C No."]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL URL (its public schema is DROPPED and recreated)")
    return parser.parse_args(argv)


def _reset_schema() -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


def _timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def _statement(members, rows: int, rng: random.Random) -> bytes:
    """Payments by members (sloppy account numbers, their phones) and some strangers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n in range(rows):
        member = rng.choice(members)
        kind = rng.random()
        if kind < 0.6:  # the member number, typed sloppily
            account = rng.choice(["{no}", "{lower}", "{seq}", "{spaced}"]).format(
                no=member.member_no, lower=member.member_no.lower(), seq=member.seq,
                spaced=member.member_no.replace("-", " "))
        elif kind < 0.9:  # nothing useful: the phone must tell
            account = rng.choice(["", "dues", "security"])
        else:  # a stranger
            account, member = "HSE 9", None
        phone = member.phone.lstrip("+") if member and member.phone else "254700000000"
        writer.writerow([
            f"TB{n:08d}", f"2026-10-{1 + n % 28:02d} 18:30:12", "",
            f"Pay Bill from {phone} - PAYER {n} Acc. {account}", "Completed",
            f"{rng.choice([50, 50, 50, 300, 600, 1500])}.00", "", "", "TRUE", "Pay Utility",
            f"{phone} - PAYER {n}", "", account,
        ])
    return out.getvalue().encode()


def main(argv=None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="association-bench-"))
    url = _database_url(args.database_url) if args.database_url \
        else f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url,
                                     "UPLOAD_DIR": tmp / "uploads"})
    try:
        with app.app_context(), acting_as("bench"):
            run(args)
    finally:
        with app.app_context():
            db.session.remove()
            if db.engine.dialect.name == "postgresql":
                _reset_schema()
            db.engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def run(args) -> None:
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        _reset_schema()
    upgrade()
    generate_members(args.members, seed=args.seed)
    db.session.commit()
    members = db.session.scalars(sa.select(Member).where(
        Member.status != MemberStatus.LEFT, Member.phone.is_not(None))).all()
    rng = random.Random(args.seed)
    print(f"M-Pesa matching and imports ({dialect}, {args.members:,} members)")

    matching.clear_cache()
    index, built = _timed(matching.current_index)
    print(f"  member index built          {built * 1000:8.1f} ms "
          f"({len(index.by_hash):,} phone hashes)")

    singles = []
    for member in rng.sample(members, 200):
        digest = hashlib.sha256(member.phone.lstrip("+").encode()).hexdigest()
        found, seconds = _timed(matching.find_match, "dues", None, digest)
        assert found.member_id == member.id
        singles.append(seconds)
        found, seconds = _timed(matching.find_match, member.member_no.lower().replace("-", " "))
        assert found.member_id == member.id
        singles.append(seconds)
    singles.sort()
    print(f"  one callback's match        {statistics.median(singles) * 1000:8.2f} ms median, "
          f"{singles[int(len(singles) * 0.95)] * 1000:.2f} ms p95 ({len(singles)} matches)")

    content = _statement(members, args.rows, rng)
    parsed, read_s = _timed(import_parsing.parse_statement, "statement.csv", content)
    print(f"  statement read              {read_s * 1000:8.1f} ms ({len(parsed.items):,} rows, "
          f"{len(content) / 1024:,.0f} KiB)")
    preview, preview_s = _timed(imports.build_preview, parsed)
    print(f"  preview                     {preview_s * 1000:8.1f} ms "
          f"({preview.matched_count:,} of {len(preview.new_rows):,} matched)")
    parts, credited, waiting, expect = [], 0, 0, preview.expect
    while True:  # one confirmation per part, as the treasurer presses "Import" again
        result, seconds = _timed(imports.confirm, parsed, expect, {}, None)
        db.session.commit()
        parts.append(seconds)
        credited, waiting = credited + result.credited, waiting + result.suspense
        if not result.remaining:
            break
        expect = imports.build_preview(parsed).expect
    print(f"  confirmation, {len(parts)} part(s)     {sum(parts) * 1000:8.1f} ms in all, "
          f"slowest part {max(parts) * 1000:.1f} ms ({credited:,} credited with receipts, "
          f"{waiting:,} in suspense)")
    again, again_s = _timed(imports.build_preview, parsed)
    print(f"  the same statement again    {again_s * 1000:8.1f} ms "
          f"({again.known_count:,} already in the books, {len(again.new_rows)} new)")
    transactions = db.session.scalar(sa.select(sa.func.count()).select_from(MpesaTransaction))
    payments = db.session.scalar(sa.select(sa.func.count()).select_from(Payment))
    print(f"  in the books                {transactions:,} M-Pesa transactions, "
          f"{payments:,} payments")


if __name__ == "__main__":
    sys.exit(main())
