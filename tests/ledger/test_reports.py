"""Reports of the books: figures worked out by hand from a small set of books, the
screens and their access rules, and bad input."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.auth.models import User
from association.core.time import month_end, month_start, today_in_nairobi
from association.extensions import db
from association.ledger import reports
from association.ledger.accounts import account
from association.ledger.dues import RateInput, add_rate_schedule, bill_month
from association.ledger.journal import Line, post_entry
from association.ledger.models import EntrySource, PaymentMethod, Receipt, Side
from association.ledger.payments import record_payment, void_receipt
from association.ledger.periods import close_month
from association.ledger.trial_balance import trial_balance
from association.members.models import Category, Member

#: An expense memo that needs escaping everywhere: quotes, a newline, ";", "|", unicode.
AWKWARD_MEMO = 'Posho ya "doria" — usiku\nwa Jumamosi; kikundi | 3 \\ ñ'


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Books:
    """What was built, for the tests to check against."""

    months: list[date]  # the four months charged, oldest first
    own_id: int
    own_no: str
    other_id: int
    other_no: str
    landlord_id: int
    landlord_no: str
    receipts: list[str]  # numbers, in order
    void_no: str
    expense_day: date


def build_books(app, people, make_member, setup_association) -> Books:
    """Four months of dues for two residents (KES 50) and a landlord with 3 premises
    (KES 600); payments in cash, M-Pesa and bank, one overpaid; one receipt voided; an
    expense with an awkward memo; the first month closed.

    By hand (KES): charged 2 x 4 x 50 + 4 x 600 = 2,800. Paid: Baraka (own) 100 + 30
    cash; Chebet (other) 50 M-Pesa, voided; the landlord 2,000 bank, of which 200 is
    credit used by the fourth month. Expense 300 from the bank. Owed: own 70, other
    200, landlord 400 = 670. Cash 130, bank 1,700, M-Pesa 0.
    """
    landlord_id, landlord_no = make_member(
        first_name="Daudi", other_names="Mwangi", category=Category.LANDLORD,
        rental_premises=3, zone_id=setup_association.zone2_id)  # the second zone: "Kosovo"
    this_month = month_start(today_in_nairobi())
    months = [add_months(this_month, -n) for n in (4, 3, 2, 1)]
    with app.app_context(), acting_as("test"):
        treasurer = db.session.scalar(sa.select(User.id).where(User.username == "treasurer"))
        add_rate_schedule(months[0], [
            RateInput(Category.RESIDENT, 5000),
            RateInput(Category.LANDLORD, 30000, 1, 2),
            RateInput(Category.LANDLORD, 60000, 3, 5),
            RateInput(Category.LANDLORD, 100000, 6, 10),
            RateInput(Category.LANDLORD, 150000, 11, None),
        ], "AGM 2026-02-14, resolution 3", treasurer)
        for month in months[:3]:
            bill_month(month, treasurer)
        own = db.session.get(Member, people.own_member_id)
        other = db.session.get(Member, people.other_member_id)
        landlord = db.session.get(Member, landlord_id)
        p1 = record_payment(own, 10000, PaymentMethod.CASH, months[1] + timedelta(days=9),
                            treasurer)
        p2 = record_payment(other, 5000, PaymentMethod.MPESA, months[1] + timedelta(days=11),
                            treasurer, reference="TC57ABC9XY")
        p3 = record_payment(landlord, 200000, PaymentMethod.BANK, months[2] + timedelta(days=4),
                            treasurer, reference="Slip 0042")
        p4 = record_payment(own, 3000, PaymentMethod.CASH, months[2] + timedelta(days=9),
                            treasurer)
        expense_day = months[2] + timedelta(days=19)
        post_entry(expense_day, AWKWARD_MEMO, EntrySource.EXPENSE, [
            Line(account("patrol_stipends").id, Side.DEBIT, 30000),
            Line(account("bank").id, Side.CREDIT, 30000),
        ], treasurer, reference="EXP-1")
        bill_month(months[3], treasurer)  # the landlord's KES 200 credit pays part of it
        void_receipt(p2.receipt, "Wrong member", treasurer)
        close_month(months[0], treasurer)
        db.session.commit()
        numbers = [p.receipt.number for p in (p1, p2, p3, p4)]
    return Books(months, people.own_member_id, people.own_member_no, people.other_member_id,
                 people.other_member_no, landlord_id, landlord_no, numbers, numbers[1],
                 expense_day)


@pytest.fixture
def books(app, people, make_member, setup_association) -> Books:
    return build_books(app, people, make_member, setup_association)


def whole(books: Books) -> reports.Period:
    return reports.Period(books.months[0], today_in_nairobi())


# --- Figures --------------------------------------------------------------------


def test_trial_balance_sums_to_zero_and_matches_the_hand_figures(app, books):
    with app.app_context():
        tb = trial_balance()
        by_key = {row.account.key: row.debit_cents - row.credit_cents for row in tb.rows}
        assert by_key == {
            "cash": 13000, "bank": 170000, "dues_receivable": 67000,
            "patrol_stipends": 30000, "residents_dues": -40000, "landlords_levy": -240000,
        }
        report = reports.trial_balance_report(today_in_nairobi())
        assert report.figures == {"debit": 280000, "credit": 280000, "difference": 0}
        assert ("Debits equal credits", "Yes") in report.facts
        # At the end of the first month only its dues are in the books.
        first = reports.trial_balance_report(month_end(books.months[0]))
        assert first.figures["debit"] == first.figures["credit"] == 5000 + 5000 + 60000


def test_income_and_expenditure_and_financial_position(app, books):
    with app.app_context():
        ie = reports.income_expenditure(whole(books))
        assert ie.figures == {"income": 280000, "expenditure": 30000, "surplus": 250000}
        # The last month alone: its dues only.
        last = reports.income_expenditure(reports.Period(books.months[3], today_in_nairobi()))
        assert last.figures["income"] == 5000 * 2 + 60000
        assert last.figures["expenditure"] == 0
        fp = reports.financial_position(today_in_nairobi())
        assert fp.figures == {"assets": 250000, "liabilities": 0, "fund": 0, "surplus": 250000}
        assert fp.figures["assets"] == (fp.figures["liabilities"] + fp.figures["fund"]
                                        + fp.figures["surplus"])
        # The day before the fourth month's dues were charged (on its last day), the
        # landlord's 200 was credit.
        before = reports.financial_position(month_end(books.months[3]) - timedelta(days=1))
        assert before.figures["liabilities"] == 20000
        assert before.figures["assets"] == (before.figures["liabilities"]
                                            + before.figures["surplus"])


def test_cash_books_have_running_balances(app, books):
    with app.app_context():
        period = whole(books)
        cash = reports.cash_book("cash", period)
        rows = list(cash.tables[0].rows)
        assert [r[5] for r in rows] == [0, 10000, 13000]
        assert rows[1][1] == books.receipts[0]
        assert cash.figures == {"opening": 0, "in": 13000, "out": 0, "closing": 13000}
        mpesa = reports.cash_book("mpesa", period)
        rows = list(mpesa.tables[0].rows)
        assert [(r[3], r[4], r[5]) for r in rows[1:]] == [(5000, None, 5000), (None, 5000, 0)]
        assert rows[2][1] == books.void_no  # the void is referenced by the receipt number
        bank = reports.cash_book("bank", period)
        assert bank.figures["closing"] == 170000
        # A period that starts later opens with the balance brought forward.
        later = reports.cash_book("bank", reports.Period(books.expense_day + timedelta(days=1),
                                                         today_in_nairobi()))
        assert later.figures["opening"] == 170000
        assert list(later.tables[0].rows)[0][5] == 170000
        with pytest.raises(reports.ReportError):
            reports.cash_book("safe", period)


def test_member_statement_running_balance(app, books):
    with app.app_context():
        member = db.session.get(Member, books.own_id)
        data = reports.member_statement_data(member, whole(books))
        assert [(line.charged_cents, line.paid_cents, line.balance_cents)
                for line in data.lines] == [
            (5000, 0, 5000), (0, 10000, -5000), (5000, 0, 0), (0, 3000, -3000),
            (5000, 0, 2000), (5000, 0, 7000),
        ]
        assert data.lines[1].receipt_no == books.receipts[0]
        assert data.closing_cents == 7000
        assert [r.number for r in data.receipts] == [books.receipts[3], books.receipts[0]]
        # From the second month on: the first month's 50 is the opening balance.
        later = reports.member_statement_data(member, reports.Period(books.months[1],
                                                                     today_in_nairobi()))
        assert later.opening_cents == 5000
        assert later.closing_cents == 7000
        # The landlord overpaid: the 200 shows as credit, then is used by the last month.
        landlord = db.session.get(Member, books.landlord_id)
        data = reports.member_statement_data(landlord, whole(books))
        assert [(line.balance_cents, line.credit_cents) for line in data.lines] == [
            (60000, 0), (120000, 0), (-80000, 20000), (-20000, 20000), (40000, 20000),
            (40000, 0),
        ]
        # The voided payment comes back as a charge, with its receipt number.
        other = db.session.get(Member, books.other_id)
        data = reports.member_statement_data(other, whole(books))
        void_line = [line for line in data.lines if line.receipt_no == books.void_no]
        assert [(v.paid_cents, v.charged_cents) for v in void_line] == [(5000, 0), (0, 5000)]
        assert data.closing_cents == 20000


def test_arrears_buckets_by_zone(app, books):
    with app.app_context():
        report = reports.arrears(today_in_nairobi())
        assert report.figures["by_member"] == {
            books.own_no: [5000, 2000, None, 7000],
            books.other_no: [5000, 10000, 5000, 20000],
            books.landlord_no: [40000, None, None, 40000],
        }
        assert (report.figures["one"], report.figures["two_three"],
                report.figures["four_plus"], report.figures["total"]) == (50000, 12000, 5000,
                                                                          67000)
        zones = {row[0]: row for row in report.tables[0].rows}
        assert zones["Mabatini"][1:] == [2, 10000, 12000, 5000, 27000]
        assert zones["Kosovo"][1:] == [1, 40000, 0, 0, 40000]
        # The receivable account agrees with the arrears list.
        assert report.figures["total"] == 67000


def test_receipts_register_shows_the_voided_number_and_no_gaps(app, books):
    with app.app_context():
        report = reports.receipts_register(reports.Period(today_in_nairobi(),
                                                          today_in_nairobi()))
        rows = list(report.tables[0].rows)
        assert [str(r[0]) for r in rows] == books.receipts
        void = rows[1]
        assert void[8] == "VOID" and void[9] == "Wrong member" and void[7] == "TC57ABC9XY"
        assert rows[2][7] == "Slip 0042"
        assert report.figures["gapless"] is True
        assert report.figures["void_count"] == 1
        assert report.figures["valid"] == 10000 + 200000 + 3000
        assert any("No gaps" in value for _, value in report.facts)
        # A missing number is reported as a gap.
        db.session.execute(sa.delete(Receipt).where(Receipt.number == books.receipts[2]))
        gappy = reports.receipts_register(reports.Period(today_in_nairobi(),
                                                         today_in_nairobi()))
        assert gappy.figures["gapless"] is False
        assert gappy.figures["missing"] == [3]
        db.session.rollback()


def test_collections_by_month_zone_and_category(app, books):
    with app.app_context():
        report = reports.collections(whole(books))
        assert report.figures == {"count": 3, "cash": 13000, "mpesa": 0, "bank": 200000,
                                  "total": 213000}
        by_month = {row[0]: row[5] for row in report.tables[0].rows}
        assert by_month == {books.months[1]: 10000,
                            books.months[2]: 203000}
        by_zone = {row[0]: row[5] for row in report.tables[1].rows}
        assert by_zone == {"Mabatini": 13000, "Kosovo": 200000}
        by_category = {row[0]: row[5] for row in report.tables[2].rows}
        assert by_category == {"Resident / tenant": 13000, "Landlord": 200000}


def test_swahili_account_names(app, books):
    with app.test_request_context("/", headers={"Accept-Language": "sw"}):
        report = reports.trial_balance_report(today_in_nairobi())
        names = [row[1] for row in report.tables[0].rows]
        assert "Pesa taslimu" in names and "Cash on hand" not in names


def test_period_parsing():
    for text in ("abc", "2026-13-01", "2026-02-30", "1,2,3", "26-01-01", "2026/01/01",
                 "99999999999999", "1899-01-01"):
        with pytest.raises(reports.ReportError):
            reports.parse_date(text, "From")
    assert reports.parse_date(" 2026-03-31 ", "To") == date(2026, 3, 31)
    assert reports.parse_date("", "To") is None


# --- Screens --------------------------------------------------------------------

REPORT_URLS = ("/reports", "/reports/trial-balance", "/reports/income-expenditure",
               "/reports/financial-position", "/reports/cash-book?account=mpesa",
               "/reports/arrears", "/reports/receipts", "/reports/collections")


def test_every_report_screen_shows_its_figures(web, books):
    web.login("auditor")
    for url in REPORT_URLS:
        response = web.get(url)
        assert response.status_code == 200, url
    page = web.get("/reports/trial-balance").get_data(as_text=True)
    assert "KES 2,800.00" in page and "Debits equal credits" in page
    page = web.get("/reports/receipts").get_data(as_text=True)
    assert books.void_no in page and "Wrong member" in page and "VOID" in page
    assert f'href="/receipts/{books.void_no}"' in page
    page = web.get("/reports/arrears").get_data(as_text=True)
    assert books.landlord_no in page and "KES 670.00" in page
    assert f"/members/{books.landlord_id}/statement" in page
    page = web.get(f"/members/{books.own_id}/statement?from={books.months[0]}").get_data(
        as_text=True)
    assert "KES 70.00" in page and books.receipts[0] in page


def test_statement_lists_receipts_with_their_code_and_void_reason(web, books):
    """The statement's receipts: the M-Pesa code beside the method, a void with its reason;
    on screen and in the files."""
    web.login("treasurer")
    page = web.get(f"/members/{books.other_id}/statement?from={books.months[0]}").get_data(
        as_text=True)
    receipts = page[page.index("<h2>Receipts</h2>"):]
    assert f'<a href="/receipts/{books.void_no}">{books.void_no}</a>' in receipts
    assert "M-Pesa TC57ABC9XY" in receipts and "VOID: Wrong member" in receipts
    assert "Valid" not in receipts  # the member's only receipt is void
    csv_text = web.get(f"/members/{books.other_id}/statement?format=csv&from={books.months[0]}"
                       ).get_data(as_text=True)
    assert "M-Pesa TC57ABC9XY" in csv_text and "VOID: Wrong member" in csv_text
    web.post("/language", {"language": "sw"})
    page = web.get(f"/members/{books.other_id}/statement?from={books.months[0]}").get_data(
        as_text=True)
    assert "BATILI: Wrong member" in page


def test_statement_lookup_by_member_number(web, books):
    web.login("treasurer")
    response = web.get(f"/reports/statement?member={books.landlord_no.lower()}")
    assert response.status_code == 302
    assert f"/members/{books.landlord_id}/statement" in response.headers["Location"]
    response = web.get("/reports/statement?member=XYZ-9999")
    assert response.status_code == 400
    assert "No member has the number" in response.get_data(as_text=True)


def test_member_sees_only_their_own_statement(web, books):
    web.login("member")
    own = web.get(f"/members/{books.own_id}/statement?from={books.months[0]}")
    assert own.status_code == 200
    page = own.get_data(as_text=True)
    assert books.own_no in page and books.receipts[0] in page and books.receipts[3] in page
    assert f'href="/receipts/{books.receipts[0]}"' in page  # each receipt opens its own page
    for other in (books.other_no, books.landlord_no, "Chebet", "Daudi", books.void_no,
                  books.receipts[2], "TC57ABC9XY"):
        assert other not in page, other
    for fmt in ("csv", "xlsx", "pdf"):
        response = web.get(f"/members/{books.own_id}/statement?format={fmt}")
        assert response.status_code == 200, fmt
        assert response.data
    csv_text = web.get(f"/members/{books.own_id}/statement?format=csv&from={books.months[0]}"
                       ).get_data(as_text=True)
    assert books.own_no in csv_text and books.other_no not in csv_text
    assert books.landlord_no not in csv_text and "Daudi" not in csv_text
    assert web.get(f"/members/{books.other_id}/statement").status_code == 404
    assert web.get(f"/members/{books.other_id}/statement?format=csv").status_code == 404
    assert web.get("/members/999999/statement").status_code == 404
    for url in REPORT_URLS + ("/reports/auditor-pack", "/reports/statement?member=MLK-0001"):
        assert web.get(url).status_code == 403, url


def test_roles_without_the_books(web, books):
    web.login("coordinator")
    assert web.get(f"/members/{books.own_id}/statement").status_code == 403
    assert web.get("/reports").status_code == 403
    web.logout()
    web.login("secretary")  # reads the books but may not take the auditor's pack
    assert web.get(f"/members/{books.other_id}/statement").status_code == 200
    assert web.get("/reports/auditor-pack").status_code == 403


REPORT_ENDPOINTS = ("/reports/trial-balance", "/reports/receipts", "/reports/collections",
                    "/reports/cash-book?account=cash", "/reports/arrears")


@pytest.mark.parametrize("query", [
    "from=abc", "to=1,2,3", "from=2026-02-30", "to=99999999999999", "from=-2026-01-01",
    "from=2026-05-01&to=2026-04-01", "to=1899-12-31", "from=2026-01-01.5",
])
def test_bad_dates_are_refused_clearly(web, books, query):
    web.login("treasurer")
    for base in ("/reports", "/reports/auditor-pack", "/reports/statement?member=MLK-0001",
                 f"/members/{books.own_id}/statement") + REPORT_ENDPOINTS:
        if base == "/reports/arrears":
            continue  # arrears are as they stand today: no dates to choose
        response = web.get(f"{base}{'&' if '?' in base else '?'}{query}")
        assert response.status_code == 400, base
        assert 'class="flash error"' in response.get_data(as_text=True), base


@pytest.mark.parametrize("fmt", ["docx", "CSV", "pdf ", "../etc", "1,2,3"])
def test_bad_formats_are_refused_clearly(web, books, fmt):
    web.login("treasurer")
    for base in (f"/members/{books.own_id}/statement",) + REPORT_ENDPOINTS:
        path, _, query = base.partition("?")
        response = web.get(path, query_string=f"{query}&format={fmt}")
        assert response.status_code == 400, base
        page = response.get_data(as_text=True)
        assert "is not a format of the reports" in page, base


def test_an_empty_format_is_the_screen(web, books):
    web.login("treasurer")
    assert web.get("/reports/trial-balance?format=").status_code == 200


def test_unknown_cash_book_is_a_clear_400(web, books):
    web.login("treasurer")
    response = web.get("/reports/cash-book?account=safe")
    assert response.status_code == 400
    assert "cash book of cash, M-Pesa or bank" in response.get_data(as_text=True)


def test_report_files_read_back(web, books):
    from openpyxl import load_workbook

    web.login("auditor")
    response = web.get("/reports/trial-balance?format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Trial balance"]
    assert ["", "Total", "", "2800.00", "2800.00"] in rows
    response = web.get("/reports/trial-balance?format=xlsx")
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    try:
        values = [list(r) for r in workbook.worksheets[1].iter_rows(values_only=True)]
    finally:
        workbook.close()
    assert values[0] == ["Code", "Account", "Type", "Debit", "Credit"]
    assert values[-1][3:] == [2800, 2800]


# --- On a phone (issue 21 item 2) -------------------------------------------------

CELL_RE = re.compile(r'<td( class="num")? data-label="([^"]*)">')


def test_report_rows_carry_their_column_names_for_phone_cards(web, books):
    """A phone shows each report row as a card: every cell names its column (data-label),
    amounts stay .num cells, and the table's scroll region is reachable by keyboard."""
    web.login("treasurer")
    page = web.get("/reports/trial-balance").get_data(as_text=True)
    assert '<table class="report cards">' in page
    assert re.search(r'<div class="table-wrap" tabindex="0" role="region" aria-label="[^"]+">',
                     page)
    cells = CELL_RE.findall(page)
    headings = re.findall(r'<th(?: class="num")? scope="col">([^<]*)</th>', page)
    assert headings and cells
    assert {label for _num, label in cells} == set(headings)
    money = [label for num, label in cells if num]
    assert money and set(money) <= {"Debit", "Credit"}
    assert '<td class="num" data-label="Debit">KES 2,800.00</td>' in page \
        or '<td class="num" data-label="Credit">KES 2,800.00</td>' in page
    # No cell without its column's name.
    assert "<td>" not in page.split("<tbody>", 1)[1].split("</table>", 1)[0]


def test_report_cards_name_columns_in_swahili(web, books):
    web.post("/language", {"language": "sw"})
    web.login("treasurer")
    page = web.get("/reports/arrears").get_data(as_text=True)
    labels = {label for _num, label in CELL_RE.findall(page)}
    assert labels and not labels & {"Zone", "Member", "Total owed", "1 month"}
