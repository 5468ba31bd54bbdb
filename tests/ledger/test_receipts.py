"""Receipts as documents: amounts in words, the PDF read back, the QR code, SMS, void, verify."""

import random
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from association.audit.services import acting_as
from association.auth.models import User
from association.core import pdf
from association.core.pdf import fold_for_latin1
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger import balances, dues, payments, receipt_pdf, settings
from association.ledger import receipts as R
from association.ledger.models import ClosedMonth, JournalEntry, PaymentMethod, Receipt
from association.members.models import Category, Member
from tests.conftest import count
from tests.ledger.conftest import EXAMPLE_RATES

# --- Amounts in words -------------------------------------------------------------------

SWAHILI_NUMBERS = [
    (0, "sifuri"), (1, "moja"), (7, "saba"), (10, "kumi"), (11, "kumi na moja"),
    (19, "kumi na tisa"), (20, "ishirini"), (21, "ishirini na moja"), (35, "thelathini na tano"),
    (48, "arobaini na nane"), (50, "hamsini"), (66, "sitini na sita"), (77, "sabini na saba"),
    (83, "themanini na tatu"), (99, "tisini na tisa"), (100, "mia moja"),
    (101, "mia moja na moja"), (250, "mia mbili na hamsini"), (999, "mia tisa na tisini na tisa"),
    (1_000, "elfu moja"), (1_500, "elfu moja na mia tano"), (2_300, "elfu mbili na mia tatu"),
    (2_005, "elfu mbili na tano"), (10_000, "elfu kumi"), (12_000, "elfu kumi na mbili"),
    (45_250, "elfu arobaini na tano na mia mbili na hamsini"),
    (100_000, "laki moja"), (150_000, "laki moja na elfu hamsini"),
    (999_999, "laki tisa na elfu tisini na tisa na mia tisa na tisini na tisa"),
    (1_000_000, "milioni moja"), (2_500_000, "milioni mbili na laki tano"),
    (12_000_050, "milioni kumi na mbili na hamsini"),
    (99_999_999, "milioni tisini na tisa na laki tisa na elfu tisini na tisa na mia tisa na "
                 "tisini na tisa"),
    (100_000_000, "milioni mia moja"), (3_000_000_000, "bilioni tatu"),
]

ENGLISH_NUMBERS = [
    (0, "zero"), (1, "one"), (11, "eleven"), (15, "fifteen"), (21, "twenty-one"), (40, "forty"),
    (99, "ninety-nine"), (100, "one hundred"), (101, "one hundred and one"),
    (250, "two hundred and fifty"), (1_000, "one thousand"), (1_050, "one thousand and fifty"),
    (1_500, "one thousand five hundred"), (2_300, "two thousand three hundred"),
    (12_345, "twelve thousand three hundred and forty-five"), (100_000, "one hundred thousand"),
    (1_000_000, "one million"), (1_000_001, "one million and one"),
    (99_999_999, "ninety-nine million nine hundred and ninety-nine thousand nine hundred and "
                 "ninety-nine"),
    (2_000_000_000, "two billion"),
]


@pytest.mark.parametrize("number,words", SWAHILI_NUMBERS)
def test_swahili_numbers(number, words):
    assert R.number_in_words_sw(number) == words


@pytest.mark.parametrize("number,words", ENGLISH_NUMBERS)
def test_english_numbers(number, words):
    assert R.number_in_words_en(number) == words


@pytest.mark.parametrize("cents,english,swahili", [
    (150_000, "One thousand five hundred shillings only", "Shilingi elfu moja na mia tano tu"),
    (150_050, "One thousand five hundred shillings and fifty cents only",
     "Shilingi elfu moja na mia tano na senti hamsini tu"),
    (5_000, "Fifty shillings only", "Shilingi hamsini tu"),
    (100, "One shilling only", "Shilingi moja tu"),
    (101, "One shilling and one cent only", "Shilingi moja na senti moja tu"),
    (50, "Fifty cents only", "Senti hamsini tu"),
    (1, "One cent only", "Senti moja tu"),
    (0, "Zero shillings only", "Shilingi sifuri tu"),
    (7_550, "Seventy-five shillings and fifty cents only",
     "Shilingi sabini na tano na senti hamsini tu"),
    (25_000, "Two hundred and fifty shillings only", "Shilingi mia mbili na hamsini tu"),
    (230_000, "Two thousand three hundred shillings only", "Shilingi elfu mbili na mia tatu tu"),
    (100_000_000, "One million shillings only", "Shilingi milioni moja tu"),
    (9_999_999_999, "Ninety-nine million nine hundred and ninety-nine thousand nine hundred "
                    "and ninety-nine shillings and ninety-nine cents only",
     "Shilingi milioni tisini na tisa na laki tisa na elfu tisini na tisa na mia tisa na "
     "tisini na tisa na senti tisini na tisa tu"),
])
def test_amounts_in_words(cents, english, swahili):
    assert R.amount_in_words(cents, "en") == english
    assert R.amount_in_words(cents, "sw") == swahili
    assert R.amount_in_words(cents, "sw_KE") == swahili  # a full locale name works too


@pytest.mark.parametrize("bad", [-1, -150_000, 10.5, "1500", None, True, 10**14 * 100])
def test_amount_in_words_refuses_what_is_not_an_amount(bad):
    with pytest.raises(ValueError):
        R.amount_in_words(bad, "en")


def test_every_amount_up_to_a_hundred_thousand_reads_without_gaps():
    """No number is left empty, doubled or with stray spaces, in either language."""
    for n in range(0, 100_001, 7):
        for words in (R.number_in_words_en(n), R.number_in_words_sw(n)):
            assert words and words == words.strip() and "  " not in words, n
            assert " na na " not in words and " and and " not in words, n


@pytest.mark.parametrize("months,english,swahili", [
    ([date(2026, 8, 1)], "Aug 2026", "Ago 2026"),
    ([date(2026, 8, 1), date(2026, 9, 1)], "Aug-Sep 2026", "Ago-Sep 2026"),
    ([date(2025, 12, 1), date(2026, 1, 1)], "Dec 2025-Jan 2026", "Des 2025-Jan 2026"),
    ([date(2026, 3, 1), date(2026, 5, 1)], "Mar, May 2026", "Mac, Mei 2026"),
    ([date(2025, 11, 1), date(2026, 2, 1), date(2026, 3, 1)], "Nov 2025, Feb-Mar 2026",
     "Nov 2025, Feb-Mac 2026"),
    ([], "", ""),
])
def test_month_spans_for_sms(app, months, english, swahili):
    with app.app_context():
        assert R.months_span(months, "en") == english
        assert R.months_span(months, "sw") == swahili


def test_text_is_folded_for_the_builtin_fonts():
    assert fold_for_latin1("Wanjirũ Kĩmani") == "Wanjiru Kimani"
    assert fold_for_latin1("Chébet Ng’ang’a") == "Chébet Ng’ang’a"  # in cp1252 already
    assert fold_for_latin1("名") == "?"


def test_qr_codes_are_exactly_what_reportlab_makes():
    """The faster mask choice gives the same code as the widget's own make()."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    urls = [f"https://{'mlk' * (i % 9 + 1)}.example.org/verify/MLK-20{i % 90 + 10}-"
            f"{i * 7919 % 1_000_000:06d}?c={i * 2654435761 % 2**32:08x}" for i in range(60)]
    urls += ["http://localhost/verify/MLK-2026-000001?c=1284ee7f", "x", "é" * 40]
    for url in urls:
        widget = QrCodeWidget(url, barLevel="M")
        widget.qr.make()
        assert pdf.qr_modules(url) == [[bool(m) for m in row] for row in widget.qr.modules], url


def test_mask_scores_are_exactly_reportlabs():
    """Each mask's score, not only the mask chosen, is reportlab's getLostPoint: on random
    codes of every density, where the runs, blocks and patterns it counts are many."""
    from reportlab.graphics.barcode.qrencoder import QRUtil

    rng = random.Random(2026)  # noqa: S311 - test data, not secrets
    for _ in range(300):
        size, density = rng.choice((21, 25, 33, 41, 57)), rng.random()
        modules = [[rng.random() < density for _ in range(size)] for _ in range(size)]
        rows = ["".join("1" if dark else "0" for dark in row) for row in modules]
        assert pdf._mask_penalty(rows) == QRUtil.getLostPoint(SimpleNamespace(modules=modules))


def test_check_address_outside_a_request_is_what_a_request_would_build(app):
    """The command line and bulk printing build the QR's address without a request."""
    from flask import url_for

    receipt = SimpleNamespace(number="MLK-2026-000042", check_code="1284ee7f")
    app.config["PUBLIC_BASE_URL"] = None  # the association's address: its host, localhost
    for root in ("/", "/chama"):
        app.config["APPLICATION_ROOT"] = root
        with app.app_context():
            outside = R.verify_url(receipt)
        with app.test_request_context():
            inside = url_for("receipts.verify", number=receipt.number, c=receipt.check_code,
                             _external=True)
        assert outside == inside
    assert outside == "http://localhost/chama/verify/MLK-2026-000042?c=1284ee7f"


def test_qr_error_correction_is_exactly_what_reportlab_computes():
    """Every version and error level: the same bytes as reportlab's own createData."""
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.barcode.qrencoder import QRCode

    checked = set()
    for length in range(1, 700, 7):
        for level in "LMQH":
            text = ("MLK-2026-000001?c=1284ee7f/é" * 30)[:length]
            qr = QrCodeWidget(text, barLevel=level).qr
            qr.version = qr.calculate_version()
            checked.add(qr.version)
            assert pdf._qr_data(qr.version, qr.errorCorrectLevel, qr.dataList) == \
                QRCode.createData(qr.version, qr.errorCorrectLevel, qr.dataList), (length, level)
    assert len(checked) > 20


# --- Reading PDFs back ------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (poppler-utils / zbar-tools)"
    return path


def _run(*args) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60)  # noqa: S603
    return result.stdout


def pdf_text(content: bytes, tmp_path: Path, name="r.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return _run(_tool("pdftotext"), "-layout", str(path), "-")


def pdf_info(content: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "info.pdf"
    path.write_bytes(content)
    lines = _run(_tool("pdfinfo"), str(path)).splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def qr_codes(content: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "qr.pdf"
    path.write_bytes(content)
    _run(_tool("pdftoppm"), "-r", "150", "-png", str(path), str(tmp_path / "page"))
    found = []
    for image in sorted(tmp_path.glob("page*.png")):
        found += _run(_tool("zbarimg"), "--raw", "-q", str(image)).split()
    return found


def main_of(response) -> str:
    """The page's own content, without the header (whose language form repeats the address)."""
    page = response.get_data(as_text=True)
    return page[page.index("<main>"):page.index("</main>")]


def squash(text: str) -> str:
    """PDF text with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())


# --- Books with receipts ------------------------------------------------------------------


@pytest.fixture
def paid(app, people):
    """Residents billed for Aug and Sep 2025; two payments with receipts (committed).

    - the member's own (Baraka Otieno): KES 1,500 by M-Pesa, settling Aug and Sep
      (100) and keeping 1,400 as credit;
    - another member's (Chebet Kiprono): KES 75.50 in cash, Aug and half of Sep.
    """
    with app.app_context(), acting_as("test"):
        dues.add_rate_schedule(date(2025, 1, 1), EXAMPLE_RATES, "AGM 2025-01-18, resolution 4",
                               None)
        dues.bill_month(date(2025, 8, 1))
        dues.bill_month(date(2025, 9, 1))
        treasurer = db.session.scalar(sa.select(User).where(User.username == "treasurer"))
        own = db.session.get(Member, people.own_member_id)
        other = db.session.get(Member, people.other_member_id)
        first = payments.record_payment(own, 150_000, PaymentMethod.MPESA, date(2025, 10, 5),
                                 treasurer.id, reference="tc57abc9xy")
        second = payments.record_payment(other, 7_550, PaymentMethod.CASH, date(2025, 10, 6),
                                  treasurer.id)
        db.session.commit()
        people.own_receipt = first.receipt.number
        people.own_code = first.receipt.check_code
        people.other_receipt = second.receipt.number
        people.other_code = second.receipt.check_code
        people.treasurer_name = treasurer.full_name
    return people


def test_receipt_facts(app, paid):
    with app.app_context():
        facts = R.receipt_facts(R.get_receipt(paid.own_receipt))
        assert re.fullmatch(r"MLK-\d{4}-000001", facts.number)
        assert facts.member_no == paid.own_member_no and facts.member_name == "Baraka Otieno"
        assert [m.month for m in facts.months] == [date(2025, 8, 1), date(2025, 9, 1)]
        assert not any(m.part for m in facts.months)
        assert facts.credit_cents == 140_000
        assert facts.mpesa_code == "TC57ABC9XY" and facts.method == PaymentMethod.MPESA
        assert facts.received_by == "Treasurer"
        assert R.months_text(facts, "en") == "Aug 2025, Sep 2025"

        other = R.receipt_facts(R.get_receipt(paid.other_receipt))
        assert [(m.month, m.amount_cents, m.part) for m in other.months] == [
            (date(2025, 8, 1), 5_000, False), (date(2025, 9, 1), 2_550, True)]
        assert other.credit_cents == 0
        assert R.months_text(other, "en") == "Aug 2025, Sep 2025 (part)"
        assert R.get_receipt("MLK-1999-000001") is None
        assert R.get_receipt("") is None and R.get_receipt("x" * 200) is None


def test_a_receipts_facts_are_read_by_its_keys_not_whole_tables(app, paid):
    """SQLite once built the months paid for every allocation in the books and scanned them
    for each receipt: 0.75 s a receipt download at five years of a large association."""
    from association.ledger.accounts import account_id

    with app.app_context():
        receipt_id = R.get_receipt(paid.own_receipt).id
        statement = R._facts_statement().params(ids=[receipt_id],
                                                credit_account=account_id("member_credit"))
        sql = str(statement.compile(dialect=db.engine.dialect,
                                    compile_kwargs={"literal_binds": True}))
        if db.engine.dialect.name == "sqlite":
            plan = [row[3] for row in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql))]
            assert not [step for step in plan if step.startswith(("SCAN", "MATERIALIZE"))], plan
        else:
            db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = db.session.execute(sa.text("EXPLAIN " + sql)).scalars().all()
            assert not [step for step in plan if "Seq Scan" in step], plan
        # The same months, and each receipt's own, one at a time or many together.
        ids = [receipt_id, R.get_receipt(paid.other_receipt).id]
        assert R.facts_for(ids) == [R.facts_for([i])[0] for i in ids]
        assert [len(f.months) for f in R.facts_for(ids)] == [2, 2]


def test_receipt_page_shows_everything_a_treasurer_needs(web, paid):
    web.login("treasurer")
    response = web.get(f"/receipts/{paid.own_receipt}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    page = response.get_data(as_text=True)
    for expected in (paid.own_receipt, paid.own_member_no, "Baraka Otieno", "Aug 2025, Sep 2025",
                     "KES 1,500.00", "KES 1,400.00", "One thousand five hundred shillings only",
                     "M-Pesa", "TC57ABC9XY", "Treasurer", "Valid",
                     f"/receipts/{paid.own_receipt}.pdf?layout=a5",
                     f"/receipts/{paid.own_receipt}.pdf?layout=roll",
                     f"/receipts/{paid.own_receipt}.txt", "readonly", "Void this receipt"):
        assert expected in page, expected
    assert "<script" not in page and "style=" not in page


def test_officials_without_the_record_permission_see_no_void_form(web, paid):
    web.login("auditor")
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    assert paid.own_receipt in page and "Void this receipt" not in page


def test_pdf_a5_reads_back_with_every_fact(web, paid, tmp_path):
    web.login("treasurer")
    response = web.get(f"/receipts/{paid.own_receipt}.pdf?layout=a5")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="{paid.own_receipt}.pdf"')
    info = pdf_info(response.data, tmp_path)
    assert info["Pages"] == "1"
    width, _, height = info["Page size"].split()[:3]
    assert (round(float(width)), round(float(height))) == (420, 595)  # A5 portrait
    text = squash(pdf_text(response.data, tmp_path))
    for expected in ("Mlango Kubwa Landlords and Tenants Association", "DSD/NRB/2019/0457",
                     "RECEIPT", paid.own_receipt, paid.own_member_no, "Baraka Otieno",
                     "Aug 2025, Sep 2025", "KES 1,500.00", "KES 1,400.00",
                     "One thousand five hundred shillings only", "M-Pesa", "TC57ABC9XY",
                     "Treasurer"):
        assert expected in text, expected
    assert "VOID" not in text
    # No other member's data on it.
    assert paid.other_member_no not in text and "Chebet" not in text
    url = f"http://localhost/verify/{paid.own_receipt}?c={paid.own_code}"
    assert qr_codes(response.data, tmp_path) == [url]
    assert url in text  # printed too, for those who cannot scan


def test_pdf_roll_is_80mm_wide_and_as_long_as_its_content(web, paid, tmp_path):
    web.login("treasurer")
    response = web.get(f"/receipts/{paid.other_receipt}.pdf?layout=roll")
    assert response.status_code == 200
    width, _, height = pdf_info(response.data, tmp_path)["Page size"].split()[:3]
    assert abs(float(width) - 80 / 25.4 * 72) < 0.01  # 80 mm
    assert 200 < float(height) < 1000
    text = squash(pdf_text(response.data, tmp_path))
    for expected in (paid.other_receipt, paid.other_member_no, "KES 75.50",
                     "Seventy-five shillings and fifty cents only", "Cash",
                     "Aug 2025, Sep 2025 (part)"):
        assert expected in text, expected
    url = f"http://localhost/verify/{paid.other_receipt}?c={paid.other_code}"
    assert qr_codes(response.data, tmp_path) == [url]


@pytest.mark.parametrize("layout", ["", "A5", "letter", "roll ", "a5,roll", "../a5"])
def test_unknown_layouts_are_refused(web, paid, layout):
    web.login("treasurer")
    assert web.get(f"/receipts/{paid.own_receipt}.pdf?layout={layout}").status_code == 400


def test_pdf_and_words_follow_the_users_language(web, paid, tmp_path):
    web.login("treasurer")
    web.post("/language", {"language": "sw"})
    response = web.get(f"/receipts/{paid.own_receipt}.pdf?layout=a5")
    text = squash(pdf_text(response.data, tmp_path))
    assert "Shilingi elfu moja na mia tano tu" in text
    assert "Ago 2025, Sep 2025" in text
    assert "One thousand" not in text
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    assert "Shilingi elfu moja na mia tano tu" in page
    sms = web.get(f"/receipts/{paid.own_receipt}.txt").get_data(as_text=True)
    assert "Ago-Sep 2025" in sms


def test_sms_text(web, paid):
    web.login("treasurer")
    response = web.get(f"/receipts/{paid.own_receipt}.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = response.get_data(as_text=True)
    assert len(text) <= 160
    url = f"http://localhost/verify/{paid.own_receipt}?c={paid.own_code}"
    assert text.startswith(paid.own_receipt)
    for expected in ("KES 1,500.00", paid.own_member_no, "Aug-Sep 2025", "TC57ABC9XY", url):
        assert expected in text, expected
    assert "Baraka" not in text  # an SMS can be forwarded: no names
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    assert text.replace("&", "&amp;") in page


def test_sms_keeps_the_essentials_when_the_address_is_long(app, paid):
    with app.app_context():
        receipt = R.get_receipt(paid.own_receipt)
        long_url = "https://mlango-kubwa-landlords-and-tenants.example.org/verify/" \
                   f"{receipt.number}?c={receipt.check_code}"
        text = R.receipt_sms(receipt, "en", url=long_url)
        assert len(text) <= 160
        for expected in (receipt.number, "KES 1,500.00", paid.own_member_no, long_url):
            assert expected in text
        full = R.receipt_sms(receipt, "en", url="http://x.ke/v")
        assert "confirmed" in full and "Asante" in full and "M-Pesa TC57ABC9XY" in full


def test_many_receipts_render_into_one_pdf(app, paid, tmp_path):
    with app.app_context():
        numbers = [paid.own_receipt, paid.other_receipt]
        found = [R.get_receipt(n) for n in numbers]
        content = receipt_pdf.render_receipts_pdf(found, "roll", "en")
        assert pdf_info(content, tmp_path)["Pages"] == "2"
        text = pdf_text(content, tmp_path)
        assert text.index(numbers[0]) < text.index(numbers[1])
        assert len(qr_codes(content, tmp_path)) == 2
        with pytest.raises(ValueError):
            receipt_pdf.render_receipts_pdf(found, "a4")
        with pytest.raises(ValueError):
            receipt_pdf.render_receipts_pdf([], "a5")


def test_names_beyond_latin1_keep_their_letters(app, paid, tmp_path):
    """Built-in fonts for most receipts; DejaVu Sans (embedded) when a name needs ũ or ĩ."""
    with app.app_context(), acting_as("test"):
        plain = receipt_pdf.render_receipt_pdf(R.get_receipt(paid.own_receipt))
        member = db.session.get(Member, paid.other_member_id)
        member.first_name, member.other_names = "Wanjirũ", "Kĩmani"
        db.session.commit()
        special = receipt_pdf.render_receipt_pdf(R.get_receipt(paid.other_receipt))
    assert b"FontFile2" not in plain and b"/Helvetica" in plain  # nothing embedded
    assert b"FontFile2" in special  # a TrueType subset is embedded
    assert "Wanjirũ Kĩmani" in squash(pdf_text(special, tmp_path))


# --- Who may see a receipt ------------------------------------------------------------------


def test_a_member_opens_their_own_receipt_but_not_anothers(web, paid, tmp_path):
    web.login("member")
    own = web.get(f"/receipts/{paid.own_receipt}")
    assert own.status_code == 200
    assert "Void this receipt" not in own.get_data(as_text=True)
    assert web.get(f"/receipts/{paid.own_receipt}.pdf?layout=roll").status_code == 200
    assert web.get(f"/receipts/{paid.own_receipt}.txt").status_code == 200
    for url in (f"/receipts/{paid.other_receipt}", f"/receipts/{paid.other_receipt}.pdf",
                f"/receipts/{paid.other_receipt}.pdf?layout=a5",
                f"/receipts/{paid.other_receipt}.txt", "/receipts/MLK-2026-999999",
                "/receipts/nonsense"):
        assert web.get(url).status_code == 404, url
    assert web.post(f"/receipts/{paid.own_receipt}/void", {"reason": "mine"}).status_code == 403


OFFICIALS_INSTRUCTIONS = ("SMS text (copy it into a message to the member)", "sms-text",
                          "SMS text as a file", "Print or send", "PDF (80 mm roll printer)",
                          "Void this receipt", "Voiding reverses the payment")


def test_a_members_receipt_page_shows_no_officials_instructions(web, paid):
    """The member reads their receipt and keeps a copy; the officials' instructions (the
    SMS to send them, printing on the roll, voiding) are not for them, in either language."""
    web.login("member")
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    for expected in (paid.own_receipt, "Baraka Otieno", "KES 1,500.00", "Valid", "Keep a copy",
                     f"/receipts/{paid.own_receipt}.pdf?layout=a5"):
        assert expected in page, expected
    for instruction in (*OFFICIALS_INSTRUCTIONS, f"/receipts/{paid.own_receipt}.txt",
                        "layout=roll", "/void"):
        assert instruction not in page, instruction
    web.post("/language", {"language": "sw"})
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    with web.client.application.test_request_context(), force_locale("sw"):
        keep, sms_label = gettext("Keep a copy"), gettext(
            "SMS text (copy it into a message to the member)")
    assert keep != "Keep a copy" and keep in page
    assert sms_label not in page and "sms-text" not in page and "/void" not in page


@pytest.mark.parametrize("role", ["treasurer", "auditor"])
def test_officials_see_the_receipts_instructions(web, paid, role):
    web.login(role)
    page = web.get(f"/receipts/{paid.own_receipt}").get_data(as_text=True)
    for instruction in OFFICIALS_INSTRUCTIONS[:5]:
        assert instruction in page, (role, instruction)
    assert ("Void this receipt" in page) == (role == "treasurer")
    assert "Keep a copy" not in page


def test_officials_who_do_not_read_the_books_get_404(web, paid):
    web.login("coordinator")
    assert web.get(f"/receipts/{paid.own_receipt}").status_code == 404
    assert web.get(f"/receipts/{paid.own_receipt}.pdf").status_code == 404


def test_logged_out_visitors_are_sent_to_log_in(client, paid):
    for url in (f"/receipts/{paid.own_receipt}", f"/receipts/{paid.own_receipt}.pdf",
                f"/receipts/{paid.own_receipt}.txt"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


# --- The public check page ---------------------------------------------------------------


def test_verify_shows_only_the_four_facts(client, paid):
    response = client.get(f"/verify/{paid.own_receipt}?c={paid.own_code}")
    assert response.status_code == 200
    page = main_of(response)
    assert "genuine receipt" in page
    for expected in (paid.own_receipt, "KES 1,500.00", "Valid"):
        assert expected in page
    assert re.search(r"\d{4}", page)  # the date
    for hidden in ("Baraka", "Otieno", paid.own_member_no, "TC57ABC9XY", "Treasurer",
                   "Aug", "1,400", "M-Pesa"):
        assert hidden not in page, hidden
    # Lower-case or upper-case, with spaces around: people retype what they see.
    assert client.get(f"/verify/{paid.own_receipt.lower()}?c={paid.own_code.upper()}"
                      ).status_code == 200


def test_verify_reveals_nothing_for_a_wrong_code_or_number(client, paid):
    answers = set()
    for url in (f"/verify/{paid.own_receipt}?c={paid.other_code}",
                f"/verify/{paid.own_receipt}?c=",
                f"/verify/{paid.own_receipt}",
                f"/verify/{paid.own_receipt}?c={paid.own_code}0",
                f"/verify/{paid.own_receipt}?c={paid.own_code[:-1]}",
                f"/verify/MLK-2026-999999?c={paid.own_code}",
                "/verify/nonsense?c=abc", f"/verify/{'9' * 300}?c=x"):
        response = client.get(url)
        assert response.status_code == 404, url
        page = main_of(response)
        assert "Not a genuine receipt" in page
        assert "KES" not in page and paid.own_receipt not in page
        answers.add(page)
    assert len(answers) == 1  # the same answer, whatever was wrong


def test_verify_is_rate_limited(client, paid):
    url = f"/verify/{paid.own_receipt}?c={paid.own_code}"
    statuses = [client.get(url).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


# --- Voiding ------------------------------------------------------------------------------


def _void_state(app, number):
    with app.app_context():
        receipt = R.get_receipt(number)
        return receipt.voided_at, receipt.void_reason, count(JournalEntry)


def test_voiding_a_receipt(app, web, paid, client, tmp_path):
    web.login("treasurer")
    response = web.post(f"/receipts/{paid.own_receipt}/void",
                        {"reason": "M-Pesa payment reversed by Safaricom"},
                        follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"Receipt {paid.own_receipt} is void" in page
    assert "M-Pesa payment reversed by Safaricom" in page and "VOID" in page
    assert "Void this receipt" not in page
    with app.app_context():
        receipt = R.get_receipt(paid.own_receipt)
        assert receipt.is_void and receipt.void_entry_id is not None
        assert balances.member_balance(paid.own_member_id) == 10_000  # Aug and Sep owed again

    pdf = web.get(f"/receipts/{paid.own_receipt}.pdf?layout=a5")
    text = squash(pdf_text(pdf.data, tmp_path))
    assert "VOID" in text and "M-Pesa payment reversed by Safaricom" in text
    assert paid.own_receipt in text  # the number stays
    roll = web.get(f"/receipts/{paid.own_receipt}.pdf?layout=roll")
    assert "VOID" in pdf_text(roll.data, tmp_path, "roll.pdf")

    sms = web.get(f"/receipts/{paid.own_receipt}.txt").get_data(as_text=True)
    assert "VOID" in sms and len(sms) <= 160

    public = client.get(f"/verify/{paid.own_receipt}?c={paid.own_code}")
    assert public.status_code == 200
    public_page = main_of(public)
    assert "VOID" in public_page and "Safaricom" not in public_page


def test_a_second_void_changes_nothing(app, web, paid):
    web.login("treasurer")
    web.post(f"/receipts/{paid.own_receipt}/void", {"reason": "Wrong member"})
    before = _void_state(app, paid.own_receipt)
    response = web.post(f"/receipts/{paid.own_receipt}/void", {"reason": "Again"},
                        follow_redirects=True)
    assert "already void" in response.get_data(as_text=True)
    assert _void_state(app, paid.own_receipt) == before
    assert before[1] == "Wrong member"


@pytest.mark.parametrize("reason,message", [
    ("", "Give the reason for voiding the receipt."),
    ("   ", "Give the reason for voiding the receipt."),
    ("ab", "Give the reason for voiding the receipt."),
    ("x" * 301, "Field cannot be longer than 300 characters."),
])
def test_void_needs_a_reason(app, web, paid, reason, message):
    before = _void_state(app, paid.own_receipt)
    web.login("treasurer")
    response = web.post(f"/receipts/{paid.own_receipt}/void", {"reason": reason},
                        follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _void_state(app, paid.own_receipt) == before


def test_void_without_a_reason_field_or_token_changes_nothing(app, web, paid):
    before = _void_state(app, paid.own_receipt)
    web.login("chair")
    assert web.post(f"/receipts/{paid.own_receipt}/void", {}).status_code in (302, 303)
    assert web.client.post(f"/receipts/{paid.own_receipt}/void",
                           data={"reason": "No token"}).status_code == 400
    assert _void_state(app, paid.own_receipt) == before


def test_void_in_a_closed_month_is_refused(app, web, paid):
    with app.app_context(), acting_as("test"):
        db.session.add(ClosedMonth(month=month_start(today_in_nairobi())))
        db.session.commit()
    before = _void_state(app, paid.own_receipt)
    web.login("treasurer")
    response = web.post(f"/receipts/{paid.own_receipt}/void", {"reason": "Wrong member"},
                        follow_redirects=True)
    assert "is closed" in response.get_data(as_text=True)
    assert _void_state(app, paid.own_receipt) == before


@pytest.mark.parametrize("role", ["secretary", "auditor", "coordinator", "member"])
def test_only_the_treasurer_and_chair_void(app, web, paid, role):
    before = _void_state(app, paid.other_receipt)
    web.login(role)
    response = web.post(f"/receipts/{paid.other_receipt}/void", {"reason": "Not mine to void"})
    assert response.status_code == 403
    assert _void_state(app, paid.other_receipt) == before


def test_void_of_an_unknown_receipt_is_404(web, paid):
    web.login("treasurer")
    assert web.post("/receipts/MLK-2026-999999/void", {"reason": "Wrong"}).status_code == 404
    assert web.get(f"/receipts/{paid.own_receipt}/void").status_code == 405


def test_voluntary_contribution_receipt(app, web, make_member, paid, tmp_path):
    """With voluntary contributions on, a receipt covers no months and keeps no credit."""
    member_id, _ = make_member(first_name="Daudi", other_names="Mwangi",
                               category=Category.BUSINESS)
    with app.app_context(), acting_as("test"):
        settings.set_voluntary(True)
        payment = payments.record_payment(db.session.get(Member, member_id), 20_000,
                                   PaymentMethod.BANK, date(2025, 10, 7), None,
                                   reference="SLIP-0042")
        db.session.commit()
        number = payment.receipt.number
        sms = R.receipt_sms(payment.receipt, "en", url="http://x.ke/v")
        assert "as a contribution" in sms and "Bank SLIP-0042" in sms
    web.login("chair")
    page = web.get(f"/receipts/{number}").get_data(as_text=True)
    assert "SLIP-0042" in page and "Recorded automatically" in page
    text = squash(pdf_text(web.get(f"/receipts/{number}.pdf?layout=a5").data, tmp_path))
    assert "Two hundred shillings only" in text and "SLIP-0042" in text
    assert "Months paid" not in text
    with app.app_context():
        assert db.session.scalar(sa.select(Receipt.number).where(Receipt.number == number))
