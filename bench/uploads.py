"""Benchmark: what a workbook bomb costs the process that takes the upload, beside a
normal workbook import.

    python bench/uploads.py [--rows 1000] [--runs 3]

Builds a temporary SQLite database (migrated, 200 members in 2 zones, a chair and a
treasurer), then for both imports (the members register and the M-Pesa statement)
uploads, each in a fresh process of its own (so its peak memory is the upload's and
the app's start-up, nothing else):

- a normal workbook of --rows rows (the baseline: read, checked and previewed);
- the bomb of tests/core/zipbombs.py: ~300 KiB that unpacks to 100 MiB (refused);
- the security review's styles bomb: ~3 MiB whose styles unpack to 48 MiB of varied
  cell formats, under every cap of the whole workbook (refused by the styles' own cap);
- a shared strings bomb: ~1 MiB, two million shared strings (refused by their count).

For each it prints the request's time (median of --runs fresh processes, from sending
the upload to having the whole page), the process's resident memory before the request
and its peak (VmHWM in /proc/self/status) after, and what the page said. Issue 20's goal
is a refusal within 2 seconds and under 200 MiB. Nothing is asserted.
"""

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"
IMPORTS = {  # name: (user, address)
    "members register": ("chair", "/members/import"),
    "M-Pesa statement": ("treasurer", "/mpesa/imports/statement"),
}
MEMBER_HEADER = ("First name", "Other names", "Phone", "Zone")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _memory(field: str) -> float:
    """A /proc/self/status memory line in MiB (VmRSS now, VmHWM the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _app(url: str, uploads: Path):
    from association import create_app
    from config import TestingConfig

    # No login limits: each upload logs in again, in a process of its own.
    return create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": uploads,
                                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})


def child(order: dict) -> None:
    """One upload in this fresh process; prints what it measured as JSON."""
    app = _app(order["url"], Path(order["uploads"]))
    client = app.test_client()
    login = client.post("/login", data={"login": order["user"], "password": PASSWORD})
    assert login.status_code in (302, 303), login.status_code
    content = Path(order["file"]).read_bytes()
    rss_before = _memory("VmRSS")
    started = time.perf_counter()
    response = client.post(order["address"], data={"file": (io.BytesIO(content), "up.xlsx")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    elapsed = time.perf_counter() - started
    refused = "too big to read safely" in page
    # The register's preview is the page itself; the statement's is where it redirects.
    previewed = 'id="preview-title"' in page or response.status_code in (302, 303)
    print(json.dumps({"seconds": elapsed, "rss_before": rss_before, "peak": _memory("VmHWM"),
                      "status": response.status_code,
                      "said": "refused: too big" if refused else
                              "preview" if previewed else "other"}))


def _workbooks(rows: int, zone: str) -> dict:
    from openpyxl import Workbook

    from bench.mpesa_imports import HEADER
    from tests.core.zipbombs import bomb_workbook, strings_bomb_workbook, styles_bomb_workbook

    def book(header, make_row) -> bytes:
        workbook = Workbook()
        workbook.active.append(list(header))
        for n in range(rows):
            workbook.active.append(make_row(n))
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    register = book(MEMBER_HEADER,
                    lambda n: [f"Amina{n}", "Wanjiku", f"07{12_000_000 + n:08d}", zone])
    statement = book(HEADER, lambda n: [
        f"TB{n:08d}", f"2026-10-{1 + n % 28:02d} 18:30:12", "",
        f"Pay Bill from 254700000000 - PAYER {n} Acc. HSE {n}", "Completed", "50.00", "", "",
        "TRUE", "Pay Utility", f"254700000000 - PAYER {n}", "", f"HSE {n}"])
    books = {}
    for name, header, normal in (("members register", MEMBER_HEADER, register),
                                 ("M-Pesa statement", tuple(HEADER), statement)):
        books[(name, "normal")] = normal
        books[(name, "bomb")] = bomb_workbook(header)
        books[(name, "styles")] = styles_bomb_workbook(header)
        books[(name, "strings")] = strings_bomb_workbook(header)
    return books


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from association.auth.models import Role
    from association.auth.services import create_user
    from association.extensions import db
    from association.members.models import Zone
    from bench.generate import generate_members

    tmp = Path(tempfile.mkdtemp(prefix="association-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    try:
        app = _app(url, tmp / "uploads")
        with app.app_context():
            upgrade()
            generate_members(200, zones=2)
            create_user("chair", "Wanjiru Kamau", PASSWORD, {Role.CHAIR},
                        must_change_password=False)
            create_user("treasurer", "Otieno Mwangi", PASSWORD, {Role.TREASURER},
                        must_change_password=False)
            db.session.commit()
            zone = db.session.scalar(sa.select(Zone.name).order_by(Zone.id))
            db.session.remove()
            db.engine.dispose()
        print(f"Python {sys.version.split()[0]}, SQLite, {args.rows} rows a normal workbook, "
              f"{args.runs} fresh processes each")
        print(f"{'import':18} {'workbook':8} {'size':>9} {'time (s)':>9} {'RSS before':>11} "
              f"{'peak (MiB)':>11}  page")
        for (name, kind), content in _workbooks(args.rows, zone).items():
            path = tmp / f"{kind}.xlsx"
            path.write_bytes(content)
            user, address = IMPORTS[name]
            order = json.dumps({"url": url, "uploads": str(tmp / "uploads"), "user": user,
                                "address": address, "file": str(path)})
            results = []
            for _ in range(args.runs):
                done = subprocess.run([sys.executable, __file__, "--child", order],
                                      capture_output=True, text=True, check=True)
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{name:18} {kind:8} {len(content) / 1024:>6.0f} KiB "
                  f"{statistics.median(r['seconds'] for r in results):>9.3f} "
                  f"{statistics.median(r['rss_before'] for r in results):>11.1f} "
                  f"{max(r['peak'] for r in results):>11.1f}  "
                  f"{results[-1]['status']} {results[-1]['said']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
