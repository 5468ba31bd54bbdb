"""Files out of the books: reports as CSV, Excel and PDF read back; the general ledger;
journals that bean-check and hledger accept; the auditor's pack; the commands."""

import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from association.audit.models import AuditEvent
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger import exports, reports
from tests.conftest import count
from tests.ledger.test_reports import AWKWARD_MEMO, Books, build_books

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


@pytest.fixture
def books(app, people, make_member, setup_association) -> Books:
    return build_books(app, people, make_member, setup_association)


def _tool(path) -> str:
    found = shutil.which(str(path))
    assert found, f"{path} is not installed: install it (see the README) to run these checks"
    return found


def bean_check(path: Path) -> None:
    result = subprocess.run([_tool(BEAN_CHECK), str(path)], capture_output=True, text=True,  # noqa: S603
                            timeout=120, check=False)
    assert result.returncode == 0, f"bean-check refused {path}:\n{result.stdout}{result.stderr}"


def hledger_check(path: Path) -> None:
    for extra in ([], ["--strict"]):
        result = subprocess.run([_tool("hledger"), "-f", str(path), "check", *extra],  # noqa: S603
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, (f"hledger check {' '.join(extra)} refused {path}:\n"
                                        f"{result.stdout}{result.stderr}")


def hledger_balance(path: Path, account: str) -> str:
    result = subprocess.run([_tool("hledger"), "-f", str(path), "bal", account, "-N",  # noqa: S603
                             "--flat"], capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def pdf_text(data: bytes, tmp_path: Path, name: str = "report.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    command = [_tool("pdftotext"), "-layout", str(path), "-"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,  # noqa: S603
                            check=True)
    return result.stdout


def _write(tmp_path: Path, name: str, pieces) -> Path:
    path = tmp_path / name
    path.write_text("".join(pieces), encoding="utf-8")
    return path


# --- Journals -------------------------------------------------------------------


def test_account_names_follow_the_tools_rules():
    assert exports.account_component("Cash on hand") == "Cash-On-Hand"
    assert exports.account_component("Residents' dues") == "Residents-Dues"
    assert exports.account_component("Dues receivable (members)") == "Dues-Receivable-Members"
    assert exports.account_component("Malipo ya ñgoma: 2%") == "Malipo-Ya-Ngoma-2"
    assert exports.amount_text(5) == "0.05"
    assert exports.amount_text(-123456) == "-1234.56"


def test_whole_ledger_journals_pass_bean_check_and_hledger(app, books, tmp_path):
    with app.app_context():
        bean = _write(tmp_path, "all.beancount", exports.beancount_journal(None, None))
        ledger = _write(tmp_path, "all.hledger", exports.hledger_journal(None, None))
    text = bean.read_text(encoding="utf-8")
    assert "open Assets:Cash-On-Hand KES" in text
    assert f"Assets:Dues-Receivable-Members:{books.own_no}  50.00 KES" in text
    assert '"Posho ya \\"doria\\" — usiku wa Jumamosi; kikundi | 3 \\\\ ñ"' in text
    assert "Opening balances" not in text
    bean_check(bean)
    hledger_check(ledger)
    assert "Posho ya \"doria\" — usiku wa Jumamosi, kikundi / 3" in ledger.read_text("utf-8")
    # hledger's own sums agree with the trial balance.
    assert "1700.00 KES  Assets:Bank" in hledger_balance(ledger, "Assets:Bank")
    receivable = hledger_balance(ledger, "Assets:Dues-Receivable-Members")
    assert f"70.00 KES  Assets:Dues-Receivable-Members:{books.own_no}" in receivable


def test_journals_of_a_later_period_open_with_balances_brought_forward(app, books, tmp_path):
    start = books.months[2]  # after two months of dues and payments
    with app.app_context():
        bean = _write(tmp_path, "part.beancount", exports.beancount_journal(start, None))
        ledger = _write(tmp_path, "part.hledger",
                        exports.hledger_journal(start, today_in_nairobi()))
    text = bean.read_text(encoding="utf-8")
    assert f"{start.isoformat()} * \"Opening balances\"" in text
    assert "Equity:Surplus-Brought-Forward" in text
    # Nothing dated before the period, apart from the declarations.
    dates = re.findall(r"^(\d{4}-\d{2}-\d{2}) \*", text, re.M)
    assert dates and min(dates) == start.isoformat()
    bean_check(bean)
    hledger_check(ledger)
    # The bank ends where the whole ledger ends.
    assert "1700.00 KES  Assets:Bank" in hledger_balance(ledger, "Assets:Bank")


def test_journals_of_empty_books_still_pass(app, setup_association, tmp_path):
    with app.app_context():
        bean = _write(tmp_path, "empty.beancount", exports.beancount_journal(None, None))
        ledger = _write(tmp_path, "empty.hledger", exports.hledger_journal(None, None))
    bean_check(bean)
    hledger_check(ledger)


def test_general_ledger_csv(app, books):
    with app.app_context():
        text = "".join(exports.general_ledger_csv(books.months[0], None))
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert list(rows[0]) == ["entry_id", "date", "memo", "source", "reference", "account_code",
                             "account_name", "member_no", "debit", "credit"]
    debit = sum(int(r["debit"].replace(".", "")) for r in rows if r["debit"])
    credit = sum(int(r["credit"].replace(".", "")) for r in rows if r["credit"])
    assert debit == credit
    expense = [r for r in rows if r["reference"] == "EXP-1"]
    assert [r["memo"] for r in expense] == [AWKWARD_MEMO] * 2
    assert {r["member_no"] for r in rows} >= {books.own_no, books.landlord_no, ""}
    # A later period leaves out what came before.
    with app.app_context():
        later = "".join(exports.general_ledger_csv(books.months[3], None))
    later_rows = list(csv.DictReader(io.StringIO(later.lstrip("\ufeff"))))
    assert all(r["date"] >= books.months[3].isoformat() for r in later_rows)
    assert len(later_rows) < len(rows)


# --- Reports in every format ------------------------------------------------------

ALL_REPORTS = {
    "trial-balance": "/reports/trial-balance",
    "income-expenditure": "/reports/income-expenditure",
    "financial-position": "/reports/financial-position",
    "cash-book-cash": "/reports/cash-book?account=cash",
    "cash-book-mpesa": "/reports/cash-book?account=mpesa",
    "cash-book-bank": "/reports/cash-book?account=bank",
    "arrears": "/reports/arrears",
    "receipts-register": "/reports/receipts",
    "collections": "/reports/collections",
}


def test_every_report_reads_back_in_every_format(web, books, tmp_path):
    from openpyxl import load_workbook

    web.login("auditor")
    start = f"from={books.months[0]}"
    for slug, url in ALL_REPORTS.items():
        joiner = "&" if "?" in url else "?"
        response = web.get(f"{url}{joiner}format=csv&{start}")
        assert response.status_code == 200, slug
        assert slug in response.headers["Content-Disposition"]
        assert response.headers["Cache-Control"] == "no-store"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[0] and rows[1], slug
        response = web.get(f"{url}{joiner}format=xlsx&{start}")
        assert response.status_code == 200, slug
        workbook = load_workbook(io.BytesIO(response.data), read_only=True)
        try:
            assert len(workbook.worksheets) >= 2, slug
            summary = [r for r in workbook.worksheets[0].iter_rows(values_only=True)]
            assert summary[0][0] == rows[0][0], slug
        finally:
            workbook.close()
        response = web.get(f"{url}{joiner}format=pdf&{start}")
        assert response.status_code == 200, slug
        assert response.data.startswith(b"%PDF")
        text = pdf_text(response.data, tmp_path, f"{slug}.pdf")
        assert rows[0][0] in " ".join(text.split()), slug
    receipts = web.get(f"/reports/receipts?format=pdf&{start}")
    text = pdf_text(receipts.data, tmp_path)
    assert books.void_no in text and "VOID" in text and "Wrong member" in text
    arrears = web.get("/reports/arrears?format=xlsx")
    workbook = load_workbook(io.BytesIO(arrears.data), read_only=True)
    try:
        zones = list(workbook.worksheets[1].iter_rows(values_only=True))
    finally:
        workbook.close()
    assert zones[0][:2] == ("Zone", "Members in arrears")
    assert zones[-1][-1] == 670  # the total owed, a number (KES) in Excel


def test_member_statement_pdf_in_swahili(web, books, tmp_path):
    web.login("member")
    web.post("/language", {"language": "sw", "next": "/"})
    response = web.get(f"/members/{books.own_id}/statement?format=pdf&from={books.months[0]}")
    assert response.status_code == 200
    text = pdf_text(response.data, tmp_path)
    assert books.own_no in text and books.receipts[0] in text
    assert books.other_no not in text and books.landlord_no not in text


def test_report_downloads_are_audited(app, web, books):
    web.login("treasurer")
    with app.app_context():
        before = count(AuditEvent)
    assert web.get("/reports/arrears?format=csv").status_code == 200
    with app.app_context():
        assert count(AuditEvent) == before + 1


# --- The auditor's pack -----------------------------------------------------------


def test_auditors_pack(app, web, books, tmp_path):
    web.login("auditor")
    response = web.get(f"/reports/auditor-pack?from={books.months[1]}&to={today_in_nairobi()}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    for slug in ALL_REPORTS:
        assert {f"{slug}.csv", f"{slug}.xlsx", f"{slug}.pdf"} <= names, slug
    assert {"general-ledger.csv", "journal.beancount", "journal.hledger",
            "MANIFEST.txt"} <= names
    manifest = archive.read("MANIFEST.txt").decode("utf-8")
    listed = {}
    for line in manifest.splitlines():
        match = re.match(r"^([0-9a-f]{64})\s+(\d+)\s+(\S+)", line)
        if match:
            listed[match.group(3)] = (match.group(1), int(match.group(2)))
    assert set(listed) == names - {"MANIFEST.txt"}
    for name, (digest, size) in listed.items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert len(data) == size, name
    assert f"{books.months[1].isoformat()} to {today_in_nairobi().isoformat()}" in manifest
    assert "Audit trail chain: verified, unbroken" in manifest
    assert re.search(r"(\d+) events checked; head hash [0-9a-f]{64}", manifest)
    assert "Auditor (auditor)" in manifest
    assert "Member statements are not included one per member" in manifest
    # The journals in the pack pass both tools; the period opens with balances.
    for name in ("journal.beancount", "journal.hledger"):
        (tmp_path / name).write_bytes(archive.read(name))
    archive.close()
    assert "Opening balances" in (tmp_path / "journal.beancount").read_text("utf-8")
    bean_check(tmp_path / "journal.beancount")
    hledger_check(tmp_path / "journal.hledger")
    # The download is in the audit trail, and the chain still verifies.
    with app.app_context():
        from association.audit.services import verify_chain

        event = db.session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        assert (event.action, event.object_type) == ("export", "auditor_pack")
        assert verify_chain().ok


def test_auditors_pack_reports_a_broken_chain(app, web, books):
    with app.app_context():
        import sqlalchemy as sa

        table = AuditEvent.__table__
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # as the tables' owner: triggers off
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(sa.update(table).where(table.c.seq == 2).values(action="tampered"))
    web.login("chair")
    response = web.get("/reports/auditor-pack")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = archive.read("MANIFEST.txt").decode("utf-8")
    assert "Audit trail chain: BROKEN" in manifest
    assert "First bad event: 2" in manifest


# --- Commands ---------------------------------------------------------------------


def test_auditor_pack_command_writes_the_same_pack(app, runner, books, tmp_path):
    out = tmp_path / "pack.zip"
    start = books.months[1]
    result = runner.invoke(args=["ledger", "auditor-pack", "--out", str(out),
                                 "--from", start.isoformat()])
    assert result.exit_code == 0, result.output
    assert "audit chain verified" in result.output
    assert not Path(f"{out}.part").exists()
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = archive.read("MANIFEST.txt").decode("utf-8")
        (tmp_path / "journal.beancount").write_bytes(archive.read("journal.beancount"))
    assert {"general-ledger.csv", "journal.hledger", "MANIFEST.txt"} <= names
    assert all({f"{slug}.csv", f"{slug}.xlsx", f"{slug}.pdf"} <= names for slug in ALL_REPORTS)
    assert f"{start.isoformat()} to {today_in_nairobi().isoformat()}" in manifest
    bean_check(tmp_path / "journal.beancount")
    with app.app_context():
        event = db.session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        assert (event.action, event.object_type) == ("export", "auditor_pack")


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-13-01"], "is not a day of the calendar"),
    (["--from", "2026-02-01", "--to", "2026-01-01"], "starts after it ends"),
])
def test_auditor_pack_command_refuses_bad_periods(app, runner, books, tmp_path, args, message):
    out = tmp_path / "pack.zip"
    with app.app_context():
        before = count(AuditEvent)
    result = runner.invoke(args=["ledger", "auditor-pack", "--out", str(out), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()
    with app.app_context():
        assert count(AuditEvent) == before


@pytest.mark.parametrize("fmt", ["csv", "beancount", "hledger"])
def test_export_command(app, runner, books, tmp_path, fmt):
    out = tmp_path / f"ledger.{fmt}"
    result = runner.invoke(args=["ledger", "export", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and not Path(f"{out}.part").exists()
    if fmt == "beancount":
        bean_check(out)
    elif fmt == "hledger":
        hledger_check(out)
    else:
        assert out.read_text("utf-8").lstrip("\ufeff").startswith("entry_id,date,memo")
    later = tmp_path / f"later.{fmt}"
    result = runner.invoke(args=["ledger", "export", "--format", fmt, "--out", str(later),
                                 "--from", books.months[2].isoformat(),
                                 "--to", (today_in_nairobi() - timedelta(days=1)).isoformat()])
    assert result.exit_code == 0, result.output
    if fmt == "beancount":
        bean_check(later)
    elif fmt == "hledger":
        hledger_check(later)


@pytest.mark.parametrize("args", [
    ["--format", "pdf"], ["--format", "csv", "--from", "abc"],
    ["--format", "csv", "--to", "2026-02-30"],
    ["--format", "csv", "--from", "2026-05-01", "--to", "2026-04-01"],
])
def test_export_command_refuses_bad_options(runner, books, tmp_path, args):
    out = tmp_path / "bad.out"
    result = runner.invoke(args=["ledger", "export", "--out", str(out), *args])
    assert result.exit_code != 0
    assert not out.exists()


def test_trial_balance_command(runner, books):
    result = runner.invoke(args=["ledger", "trial-balance"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(re.match(r"^1000\s+Cash on hand\s+130\.00$", line) for line in lines)
    assert any(re.match(r"^\s+Total\s+2800\.00\s+2800\.00$", line) for line in lines)
    assert "Debits equal credits: Yes" in result.output
    result = runner.invoke(args=["ledger", "trial-balance", "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.output)))
    assert ["", "Total", "", "2800.00", "2800.00"] in rows
    result = runner.invoke(args=["ledger", "trial-balance", "--at",
                                 books.months[0].isoformat()])
    assert result.exit_code == 0 and "Debits equal credits: Yes" in result.output
    result = runner.invoke(args=["ledger", "trial-balance", "--at", "yesterday"])
    assert result.exit_code == 1 and "is not a date" in result.output
    result = runner.invoke(args=["ledger", "trial-balance", "--format", "xml"])
    assert result.exit_code == 2


def test_report_period_helper(app, setup_association):
    with app.app_context():
        period = reports.parse_period(None, "2026-03-31")
        assert (period.start.isoformat(), period.end.isoformat()) == ("2026-01-01", "2026-03-31")
