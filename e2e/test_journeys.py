"""What people do with the app, end to end in a real browser (see conftest.py).

Each journey runs four times: phone and laptop, English and Swahili. Words on
the page differ by language, so the journeys find things by form field names
and addresses, and check facts (numbers, amounts, member numbers) that read the
same in both languages.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

MEMBER_NO = re.compile(r"\bMLK-\d{4}\b")
RECEIPT_NO = re.compile(r"\bMLK-\d{4}-\d{6}\b")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (Debian: poppler-utils, zbar-tools, beancount from PyPI)"
    return path


def _run(*args) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


def pdf_text(path) -> str:
    return " ".join(_run(_tool("pdftotext"), "-layout", str(path), "-").split())


def qr_codes(path) -> list[str]:
    prefix = path.with_suffix("")
    _run(_tool("pdftoppm"), "-r", "150", "-png", str(path), str(prefix))
    found = []
    for image in sorted(path.parent.glob(f"{prefix.name}*.png")):
        found += _run(_tool("zbarimg"), "--raw", "-q", str(image)).split()
    return found


def test_treasurer_records_a_cash_payment_runs_dues_and_closes_a_month(visit):
    visit.login("treasurer")
    visit.shot("books")
    # A member in arrears, from the arrears list.
    visit.open("/reports/arrears")
    visit.shot("arrears")
    tables = visit.page.locator("main table")
    member_no = MEMBER_NO.search(tables.nth(tables.count() - 1).inner_text()).group(0)
    visit.open(f"/ledger/payments/new?member={member_no}")
    visit.shot("payment-form")
    visit.page.fill("#amount", "150")
    visit.page.select_option("#method", "cash")
    visit.page.locator("main form button[type=submit]").click()
    visit.page.wait_for_load_state()
    assert "/receipts/" in visit.page.url
    visit.shot("receipt")
    receipt_no = RECEIPT_NO.search(visit.page.url).group(0)
    assert member_no in visit.text() and "150.00" in visit.text()
    # The receipt PDF, read back: member, amount, number, and the QR code's address.
    href = visit.page.locator(f"a[href$='/receipts/{receipt_no}.pdf?layout=a5']")
    pdf = visit.fetch(href.get_attribute("href"), "receipt.pdf")
    text = pdf_text(pdf)
    assert receipt_no in text and member_no in text and "KES 150.00" in text
    assert ("one hundred and fifty" in text.lower()) if visit.language == "en" \
        else ("shilingi mia moja na hamsini" in text.lower())
    codes = qr_codes(pdf)
    assert len(codes) == 1 and codes[0].startswith(f"{visit.base}/verify/{receipt_no}?c=")
    # The check page the QR code leads to says the receipt is genuine.
    visit.page.goto(codes[0])
    visit.shot("verify")
    assert receipt_no in visit.text() and "150.00" in visit.text()
    # This month's dues: running them again charges nobody twice.
    visit.open("/ledger/dues")
    visit.page.fill("#month", date.today().strftime("%Y-%m"))
    visit.page.locator("form[action$='/ledger/dues/run'] button[type=submit]").click()
    visit.page.wait_for_load_state()
    visit.shot("dues-run")
    assert visit.page.locator(".flash").count() >= 1
    # Close last month, which has ended and is still open.
    visit.open("/ledger/periods")
    close = visit.page.locator("main table form[action$='/ledger/periods/close']").first
    month = close.locator("input[name=month]").get_attribute("value")
    close.locator("button").click()
    visit.page.wait_for_load_state()
    visit.shot("month-closed")
    assert month in visit.text()
    assert visit.page.locator(f"main table input[name=month][value='{month}']").count() == 0


def test_auditor_downloads_the_pack_and_its_journal_passes_bean_check(visit, tmp_path):
    visit.login("auditor")
    visit.open("/reports")
    visit.shot("reports")
    pack = visit.download(lambda: visit.page.locator(
        "a[href*='/reports/auditor-pack']").first.click())
    with zipfile.ZipFile(pack) as archive:
        names = set(archive.namelist())
        assert {"MANIFEST.txt", "journal.beancount", "journal.hledger",
                "general-ledger.csv"} <= names
        journal = tmp_path / "journal.beancount"
        journal.write_bytes(archive.read("journal.beancount"))
        manifest = archive.read("MANIFEST.txt").decode("utf-8")
    bean_check = shutil.which("bean-check") or str(Path(sys.executable).with_name("bean-check"))
    result = subprocess.run([bean_check, str(journal)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"[0-9a-f]{64}", manifest)


def test_visitor_opens_a_receipt_verification_link(visit):
    """A resident checks a receipt from its QR code, without logging in; a forged
    check code reveals nothing."""
    visit.login("treasurer")
    visit.open("/reports/receipts")
    number = RECEIPT_NO.search(visit.text()).group(0)
    visit.open(f"/receipts/{number}")
    href = visit.page.locator(f"a[href$='/receipts/{number}.pdf?layout=roll']")
    pdf = visit.fetch(href.get_attribute("href"), "roll.pdf")
    link = qr_codes(pdf)[0]
    visit.page.context.clear_cookies()  # a visitor, not logged in
    response = visit.page.goto(link)
    visit.shot("verify-genuine")
    assert response.status == 200 and number in visit.text() and "KES" in visit.text()
    forged = re.sub(r"c=[^&]+", "c=WRONGCODE1", link)
    response = visit.page.goto(forged)
    visit.shot("verify-forged")
    assert response.status == 404 and "KES" not in visit.text()
