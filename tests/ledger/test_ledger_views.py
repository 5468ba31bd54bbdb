"""The treasurer's screens: every form refuses bad input, writes nothing, and says why."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger.balances import member_balance
from association.ledger.dues import RateInput, add_rate_schedule, bill_month
from association.ledger.models import (
    ClosedMonth,
    DuesCharge,
    DuesRate,
    DuesWaiver,
    JournalEntry,
    Payment,
    PaymentMethod,
    Receipt,
    WaiverStatus,
)
from association.ledger.payments import record_payment
from association.ledger.periods import close_month, is_closed
from association.ledger.settings import set_voluntary, settings
from association.members.models import Category, Member
from tests.conftest import count

#: "AGM 2025-01-10, resolution 2" as the rates pages show it: in words, the date the Kenyan way.
AGM_REF = "Annual general meeting of 10 Jan 2025, resolution 2"

OFFICIAL_READERS = ("chair", "treasurer", "secretary", "auditor")


def _this_month() -> date:
    return month_start(today_in_nairobi())


def _last_month() -> date:
    return month_start(_this_month() - timedelta(days=1))


def _ym(month: date) -> str:
    return month.strftime("%Y-%m")


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def rates(app, people):
    """Residents 50 and the landlords' tiers, in force since January 2025."""
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), [
            RateInput(Category.RESIDENT, 5000),
            RateInput(Category.LANDLORD, 30000, 1, 2),
            RateInput(Category.LANDLORD, 60000, 3, 5),
            RateInput(Category.LANDLORD, 100000, 6, 10),
            RateInput(Category.LANDLORD, 150000, 11, None),
        ], "AGM 2025-01-10, resolution 2", None)
        db.session.commit()
    return people


def _member(member_no: str) -> Member:
    return db.session.scalar(sa.select(Member).where(Member.member_no == member_no))


def _pay(app, member_no, cents, method=PaymentMethod.CASH, on=None, reference=None) -> str:
    with app.app_context(), acting_as("test"):
        payment = record_payment(_member(member_no), cents, method, on or today_in_nairobi(),
                                 None, reference=reference)
        db.session.commit()
        return payment.receipt.number


# --- Who may see what ------------------------------------------------------------------

LEDGER_PAGES = ("/ledger", "/ledger/dues", "/ledger/periods", "/ledger/rates", "/ledger/waivers")


@pytest.mark.parametrize("role", OFFICIAL_READERS)
def test_officials_who_read_the_books_open_every_page(web, rates, role):
    web.login(role)
    for url in LEDGER_PAGES:
        response = web.get(url)
        assert response.status_code == 200, (role, url)
    home = _text(web.get("/", follow_redirects=True))
    assert 'href="/ledger"' in home and ">Books<" in home


@pytest.mark.parametrize("role", ("coordinator", "member"))
def test_others_are_refused_the_books(web, rates, role):
    web.login(role)
    for url in (*LEDGER_PAGES, "/ledger/payments/new", "/ledger/rates/new",
                "/ledger/settings"):
        assert web.get(url).status_code == 403, (role, url)
    assert 'href="/ledger"' not in _text(web.get("/", follow_redirects=True))


@pytest.mark.parametrize("role,allowed", [
    ("chair", {"/ledger/payments/new", "/ledger/rates/new", "/ledger/waivers/new",
               "/ledger/settings"}),
    ("treasurer", {"/ledger/payments/new", "/ledger/rates/new", "/ledger/waivers/new"}),
    ("secretary", {"/ledger/waivers/new"}),
    ("auditor", set()),
])
def test_writing_screens_follow_the_roles(web, rates, role, allowed):
    web.login(role)
    for url in ("/ledger/payments/new", "/ledger/rates/new", "/ledger/waivers/new",
                "/ledger/settings"):
        expected = 200 if url in allowed else 403
        assert web.get(url).status_code == expected, (role, url)


def test_anonymous_is_sent_to_log_in(client, rates):
    response = client.get("/ledger")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


# --- The treasurer's home --------------------------------------------------------------


@pytest.mark.parametrize("role,links,not_links", [
    ("treasurer", ["/ledger", "/reports", "/expenses"], ["/expenses/new"]),
    ("auditor", ["/ledger", "/reports", "/expenses"], ["/expenses/new"]),
    ("coordinator", ["/expenses/new"], ["/ledger", "/reports", "/expenses"]),
    ("member", [], ["/ledger", "/reports", "/expenses", "/expenses/new"]),
])
def test_the_menu_leads_to_the_books_reports_and_expenses(web, rates, role, links, not_links):
    web.login(role)
    page = web.get("/", follow_redirects=True).get_data(as_text=True)
    menu = page[page.index("<nav"):page.index("</nav>")]
    hrefs = set(re.findall(r'href="([^"]+)"', menu))
    assert set(links) <= hrefs
    assert not set(not_links) & hrefs


def test_home_shows_money_held_owed_credit_and_months(app, web, rates):
    with app.app_context(), acting_as("test"):
        bill_month(_last_month())
        bill_month(_this_month())
        close_month(_last_month(), None)
        db.session.commit()
    _pay(app, rates.own_member_no, 25000)  # 100 owed, 150 left as credit
    _pay(app, rates.other_member_no, 3000, PaymentMethod.MPESA, reference="TC57ABC9XY")
    web.login("treasurer")
    page = _text(web.get("/ledger"))
    assert "KES 250.00" in page  # cash
    assert "KES 30.00" in page  # M-Pesa
    assert "KES 280.00" in page  # held in all
    assert "KES 70.00" in page  # still owed by the other member
    assert "KES 150.00" in page  # credit of the first
    assert "Closed" in page and "Open" in page
    assert "Record a payment" in page and "Reports" in page
    assert re.search(r"MLK-\d{4}-000001", page)


def test_home_for_the_auditor_has_no_recording_buttons(web, rates):
    web.login("auditor")
    page = _text(web.get("/ledger"))
    assert "Record a payment" not in page and "Run monthly dues" not in page
    assert "Ledger settings" not in page
    assert "No payments recorded yet." in page


def test_home_offers_to_close_last_month(app, web, rates):
    web.login("treasurer")
    page = _text(web.get("/ledger"))
    assert f'name="month" value="{_ym(_last_month())}"' in page
    response = web.post("/ledger/periods/close", {"month": _ym(_last_month())},
                        follow_redirects=True)
    assert "is closed" in _text(response)
    with app.app_context():
        assert is_closed(_last_month())


# --- Payments ---------------------------------------------------------------------------


def _payment(member_no, **overrides):
    data = {"member": member_no, "amount": "150", "method": "cash", "reference": "",
            "paid_on": today_in_nairobi().isoformat()}
    data.update(overrides)
    return data


def test_preselected_member_shows_name_and_balance(app, web, rates):
    with app.app_context(), acting_as("test"):
        bill_month(_last_month())
        db.session.commit()
    web.login("treasurer")
    page = _text(web.get(f"/ledger/payments/new?member={rates.own_member_no}"))
    assert "Baraka Otieno" in page
    assert '<dt>Balance</dt><dd class="bad">KES 50.00</dd>' in page
    assert 'name="amount" type="text" value="50"' in page  # the balance, to confirm
    assert f'value="{rates.own_member_no}"' in page
    today = today_in_nairobi()  # shown the Kenyan way, as the form reads it back
    assert f'value="{today.day} {today:%b %Y}"' in page
    unknown = _text(web.get("/ledger/payments/new?member=MLK-9999"))
    assert "No member has the number MLK-9999." in unknown


def test_treasurer_records_a_cash_payment_and_is_sent_to_the_receipt(app, web, rates):
    with app.app_context(), acting_as("test"):
        bill_month(_last_month())
        bill_month(_this_month())
        db.session.commit()
    web.login("treasurer")
    response = web.post("/ledger/payments/new", _payment("mlk 1", amount="1,000"))
    assert response.status_code in (302, 303)
    year = today_in_nairobi().year
    assert response.headers["Location"].endswith(f"/receipts/MLK-{year}-000001")
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert payment.amount_cents == 100000 and payment.method == PaymentMethod.CASH
        assert payment.member_id == rates.own_member_id
        assert payment.received_by.username == "treasurer"
        assert member_balance(rates.own_member_id) == -90000  # 100 of dues paid, 900 credit
    followed = _text(web.get("/ledger"))
    assert f"MLK-{year}-000001" in followed


def test_success_flash_names_the_receipt(app, web, rates):
    web.login("treasurer")
    response = web.post("/ledger/payments/new",
                        _payment(rates.own_member_no, method="mpesa", reference="tc57 abc9xy"),
                        follow_redirects=True)
    assert re.search(r"KES 150.00 from Baraka Otieno \(MLK-0001\) is recorded: receipt "
                     r"MLK-\d{4}-000001", _text(response))
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.mpesa_code)) == "TC57ABC9XY"


@pytest.mark.parametrize("overrides,message", [
    ({"amount": ""}, "Enter an amount."),
    ({"amount": "abc"}, "abc is not an amount"),
    ({"amount": "1,2,3"}, "1,2,3 is not an amount"),
    ({"amount": "-50"}, "The amount must be more than zero."),
    ({"amount": "0"}, "The amount must be more than zero."),
    ({"amount": "0.00"}, "The amount must be more than zero."),
    ({"amount": "10.005"}, "at most two decimal places"),
    ({"amount": "99999999999999"}, "too large to be right"),
    ({"amount": "999999999"}, "too large to be right"),
    ({"member": ""}, "Enter the member number."),
    ({"member": "MLK-9999"}, "No member has the number MLK-9999."),
    ({"member": "abc"}, "No member has the number abc."),
    ({"method": "paypal"}, "Not a valid choice."),
    ({"paid_on": ""}, "Enter the date the money was paid."),
    ({"paid_on": "31/02/2025"}, "31/02/2025 is not a day of the calendar."),
    ({"paid_on": "2999-01-01"}, "A payment cannot be dated in the future."),
    ({"method": "mpesa", "reference": ""}, "Enter the M-Pesa code"),
    ({"method": "mpesa", "reference": "12"}, "Enter the M-Pesa code"),
    ({"reference": "x" * 41}, "Field cannot be longer than 40 characters."),
])
def test_bad_payments_show_the_problem_and_write_nothing(app, web, rates, overrides, message):
    web.login("treasurer")
    response = web.post("/ledger/payments/new", _payment(rates.own_member_no, **overrides))
    assert response.status_code == 200
    assert message in _text(response)
    with app.app_context():
        assert count(Payment) == 0 and count(JournalEntry) == 0 and count(Receipt) == 0


def test_typed_markup_is_shown_as_text(app, web, rates):
    web.login("treasurer")
    page = _text(web.post("/ledger/payments/new",
                          _payment(rates.own_member_no, amount="<b>9</b>")))
    assert "&lt;b&gt;9&lt;/b&gt; is not an amount" in page and "<b>9</b>" not in page
    page = _text(web.post("/ledger/payments/new", _payment("<i>x</i>")))
    assert "&lt;i&gt;x&lt;/i&gt;" in page and "<i>x</i>" not in page
    with app.app_context():
        assert count(Payment) == 0


def test_duplicate_mpesa_code_is_refused(app, web, rates):
    _pay(app, rates.other_member_no, 5000, PaymentMethod.MPESA, reference="TC57ABC9XY")
    web.login("treasurer")
    response = web.post("/ledger/payments/new",
                        _payment(rates.own_member_no, method="mpesa", reference=" tc57abc9xy"))
    assert response.status_code == 200
    assert "The M-Pesa code TC57ABC9XY is already in the books." in _text(response)
    with app.app_context():
        assert count(Payment) == 1 and count(Receipt) == 1


def test_payment_in_a_closed_month_is_refused_clearly(app, web, rates):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    web.login("treasurer")
    day = _last_month().replace(day=15)
    response = web.post("/ledger/payments/new",
                        _payment(rates.own_member_no, paid_on=day.isoformat()))
    assert response.status_code == 200
    assert f"{_last_month():%b %Y} is closed: nothing can be posted in it." in _text(response)
    with app.app_context():
        assert count(Payment) == 0 and count(JournalEntry) == 0 and count(Receipt) == 0


def test_payment_form_refused_to_other_roles(app, web, rates):
    for role in ("secretary", "auditor", "coordinator", "member"):
        web.login(role)
        assert web.post("/ledger/payments/new", _payment(rates.own_member_no)).status_code == 403
        web.logout()
    with app.app_context():
        assert count(Payment) == 0


# --- Monthly dues -----------------------------------------------------------------------


def test_dues_page_shows_schedule_runs_and_form(app, web, rates):
    with app.app_context(), acting_as("test"):
        bill_month(_last_month())
        db.session.commit()
    web.login("treasurer")
    page = _text(web.get("/ledger/dues"))
    assert AGM_REF in page
    assert "KES 1,500.00" in page and "11 or more" in page and "1 to 2" in page
    assert f'value="{_ym(_this_month())}"' in page  # the month to run, by default
    assert "KES 100.00" in page  # last month's run: two residents
    web.logout()
    web.login("auditor")
    auditor = _text(web.get("/ledger/dues"))
    assert "Run dues" not in auditor and AGM_REF in auditor


def test_dues_run_twice_charges_once(app, web, rates):
    web.login("treasurer")
    first = web.post("/ledger/dues/run", {"month": _ym(_last_month())}, follow_redirects=True)
    text = _text(first)
    assert "2 members charged, KES 100.00 in all" in text
    assert "Members charged" in text
    second = web.post("/ledger/dues/run", {"month": _ym(_last_month())}, follow_redirects=True)
    text = _text(second)
    assert "nobody was charged this time" in text
    assert re.search(r"Already charged before</dt><dd>2<", text)
    with app.app_context():
        assert count(DuesCharge) == 2
        assert db.session.scalar(sa.select(sa.func.sum(DuesCharge.amount_cents))) == 10000
        assert count(JournalEntry) == 1
    # The result is shown once, not on every later visit.
    assert "Result of the run" not in _text(web.get("/ledger/dues"))


def test_dues_run_reports_who_was_not_charged(app, web, rates, make_member):
    make_member(first_name="Late", other_names="Joiner", joined_on=today_in_nairobi())
    make_member(first_name="Duka", other_names="Owner", category=Category.BUSINESS)
    web.login("treasurer")
    text = _text(web.post("/ledger/dues/run", {"month": _ym(_last_month())},
                          follow_redirects=True))
    assert re.search(r"Joined after the month</dt><dd>1<", text)
    assert re.search(r"No rate for their category</dt><dd>1<", text)
    assert re.search(r"Members charged</dt><dd>2<", text)


@pytest.mark.parametrize("month,message", [
    ("", "Enter the month, e.g. 2026-03."),
    ("abc", "abc is not a month."),
    ("2026-13", "2026-13 is not a month."),
    ("2026-3", "2026-3 is not a month."),
    ("1,2,3", "is not a month."),
    ("0000-01", "is not a month."),
    ("2999-01", "Dues can be run for the current month or earlier"),
    ("2020-01", "No dues rates apply to Jan 2020."),
])
def test_bad_dues_runs_say_why_and_charge_nobody(app, web, rates, month, message):
    web.login("treasurer")
    response = web.post("/ledger/dues/run", {"month": month}, follow_redirects=True)
    assert message in _text(response)
    with app.app_context():
        assert count(DuesCharge) == 0 and count(JournalEntry) == 0


def test_dues_run_in_a_closed_month_is_refused(app, web, rates):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    web.login("treasurer")
    response = web.post("/ledger/dues/run", {"month": _ym(_last_month())},
                        follow_redirects=True)
    assert "is closed: nothing can be posted in it" in _text(response)
    with app.app_context():
        assert count(DuesCharge) == 0


def test_dues_run_refused_to_readers(app, web, rates):
    for role in ("secretary", "auditor"):
        web.login(role)
        response = web.post("/ledger/dues/run", {"month": _ym(_last_month())})
        assert response.status_code == 403
        web.logout()
    with app.app_context():
        assert count(DuesCharge) == 0


def test_dues_run_refused_when_contributions_are_voluntary(app, web, rates):
    with app.app_context(), acting_as("test"):
        set_voluntary(True)
        db.session.commit()
    web.login("treasurer")
    page = _text(web.get("/ledger/dues"))
    assert "records voluntary contributions" in page and "Run dues" not in page
    response = web.post("/ledger/dues/run", {"month": _ym(_last_month())},
                        follow_redirects=True)
    assert "no dues are charged" in _text(response)
    with app.app_context():
        assert count(DuesCharge) == 0


# --- Periods ----------------------------------------------------------------------------


def test_periods_lists_24_months(web, rates):
    web.login("auditor")
    page = _text(web.get("/ledger/periods"))
    assert page.count('class="badge open"') == 24
    assert "Close month" not in page and "Reopen month" not in page


def test_treasurer_closes_a_month_once(app, web, rates):
    web.login("treasurer")
    response = web.post("/ledger/periods/close", {"month": _ym(_last_month())},
                        follow_redirects=True)
    text = _text(response)
    assert f"{_last_month():%b %Y} is closed." in text
    assert "Closed by Treasurer" in text
    again = web.post("/ledger/periods/close", {"month": _ym(_last_month())},
                     follow_redirects=True)
    assert f"{_last_month():%b %Y} is already closed." in _text(again)
    with app.app_context():
        assert count(ClosedMonth) == 1


@pytest.mark.parametrize("month,message", [
    ("", "Enter the month, e.g. 2026-03."),
    ("abc", "abc is not a month."),
    ("2026-00", "2026-00 is not a month."),
    ("current", "is not a month."),
])
def test_bad_close_requests_change_nothing(app, web, rates, month, message):
    web.login("treasurer")
    response = web.post("/ledger/periods/close", {"month": month}, follow_redirects=True)
    assert message in _text(response)
    with app.app_context():
        assert count(ClosedMonth) == 0


def test_the_current_month_cannot_be_closed(app, web, rates):
    web.login("treasurer")
    response = web.post("/ledger/periods/close", {"month": _ym(_this_month())},
                        follow_redirects=True)
    assert "A month can be closed only after it has ended." in _text(response)
    with app.app_context():
        assert count(ClosedMonth) == 0


def test_reopening_needs_the_chair_and_a_reason(app, web, rates):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    month = _ym(_last_month())
    web.login("treasurer")
    assert web.post("/ledger/periods/reopen",
                    {"month": month, "reason": "Missed payments"}).status_code == 403
    web.logout()
    web.login("chair")
    for reason, message in (("", "Give the reason for reopening the month."),
                            ("   ", "Give the reason for reopening the month."),
                            ("oops", "Give the reason for reopening the month.")):
        response = web.post("/ledger/periods/reopen", {"month": month, "reason": reason},
                            follow_redirects=True)
        assert message in _text(response)
        with app.app_context():
            assert is_closed(_last_month())
    page = _text(web.get("/ledger/periods"))
    assert "Reopen month" in page
    response = web.post("/ledger/periods/reopen",
                        {"month": month, "reason": "M-Pesa payments of the 30th were missed"},
                        follow_redirects=True)
    text = _text(response)
    assert f"{_last_month():%b %Y} is open again." in text  # "Nov 2026", not ISO
    assert "Reopened by Wanjiru Kamau" in text and "M-Pesa payments of the 30th were missed" in text
    with app.app_context():
        assert not is_closed(_last_month())
        row = db.session.scalar(sa.select(ClosedMonth))
        assert row.reopen_reason == "M-Pesa payments of the 30th were missed"
        audited = db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.object_type == "closed_month",
                                                          AuditEvent.action == "update"))
        assert audited == 1


@pytest.mark.parametrize("month,message", [
    ("", "Enter the month, e.g. 2026-03."),
    ("March", "March is not a month."),
    ("2020-01", "Jan 2020 is not closed."),
])
def test_bad_reopen_requests_change_nothing(app, web, rates, month, message):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    web.login("chair")
    response = web.post("/ledger/periods/reopen",
                        {"month": month, "reason": "A good long reason"}, follow_redirects=True)
    assert message in _text(response)
    with app.app_context():
        assert is_closed(_last_month())


# --- Rates ------------------------------------------------------------------------------


def _rate_form(**overrides):
    data = {
        "effective": "2026-07", "resolution_ref": "SGM 2026-06-20, resolution 1",
        "resident": "60", "business": "200", "other": "",
        "tiers-0-min_premises": "1", "tiers-0-max_premises": "2", "tiers-0-amount": "350",
        "tiers-1-min_premises": "3", "tiers-1-max_premises": "5", "tiers-1-amount": "700",
        "tiers-2-min_premises": "6", "tiers-2-max_premises": "", "tiers-2-amount": "1,200",
        "tiers-3-min_premises": "", "tiers-3-max_premises": "", "tiers-3-amount": "",
        "tiers-4-min_premises": "", "tiers-4-max_premises": "", "tiers-4-amount": "",
    }
    data.update(overrides)
    return data


def test_new_schedule_form_is_prefilled_with_the_example(web, people):
    web.login("treasurer")
    page = _text(web.get("/ledger/rates/new"))
    for value in ('name="resident" type="text" value="50"',
                  'name="tiers-0-min_premises" type="number" value="1"',
                  'name="tiers-0-amount" type="text" value="300"',
                  'name="tiers-1-amount" type="text" value="600"',
                  'name="tiers-2-amount" type="text" value="1,000"',
                  'name="tiers-3-min_premises" type="number" value="11"',
                  'name="tiers-3-amount" type="text" value="1,500"'):
        assert value in page, value
    assert 'name="tiers-3-max_premises" type="number" value=""' in page


def test_new_schedule_form_is_prefilled_with_the_rates_in_force(web, rates):
    web.login("treasurer")
    page = _text(web.get("/ledger/rates/new"))
    assert 'name="tiers-3-amount" type="text" value="1,500"' in page
    assert 'name="resident" type="text" value="50"' in page


def test_treasurer_adopts_a_schedule_and_old_charges_keep_their_rate(app, web, rates):
    with app.app_context(), acting_as("test"):
        bill_month(_last_month())
        db.session.commit()
    web.login("treasurer")
    month = _ym(_this_month())
    response = web.post("/ledger/rates/new", _rate_form(effective=month), follow_redirects=True)
    text = _text(response)
    assert f"The new rates apply from {_this_month():%b %Y}." in text  # "Dec 2026"
    assert "SGM 2026-06-20, resolution 1" in text and "In force" in text
    assert "KES 1,200.00" in text and "6 or more" in text
    with app.app_context():
        new = db.session.scalars(sa.select(DuesRate).where(
            DuesRate.effective_from == _this_month())).all()
        assert sorted((r.category.value, r.amount_cents) for r in new) == [
            ("business", 20000), ("landlord", 35000), ("landlord", 70000), ("landlord", 120000),
            ("resident", 6000)]
        assert {c.amount_cents for c in db.session.scalars(sa.select(DuesCharge))} == {5000}
    run = web.post("/ledger/dues/run", {"month": month}, follow_redirects=True)
    assert "KES 120.00 in all" in _text(run)


@pytest.mark.parametrize("overrides,message", [
    ({"resolution_ref": ""}, "Name the meeting resolution that decided these rates."),
    ({"resolution_ref": "x" * 121}, "Field cannot be longer than 120 characters."),
    ({"effective": ""}, "Enter the month, e.g. 2026-03."),
    ({"effective": "July"}, "July is not a month."),
    ({"resident": "abc"}, "abc is not an amount"),
    ({"resident": "1,2,3"}, "1,2,3 is not an amount"),
    ({"resident": "0"}, "The amount must be more than zero."),
    ({"resident": "-50"}, "The amount must be more than zero."),
    ({"business": "10.005"}, "at most two decimal places"),
    ({"business": "99999999999999"}, "too large to be right"),
    ({"tiers-0-amount": ""}, "Enter this tier&#39;s monthly amount."),
    ({"tiers-0-min_premises": ""}, "Enter the smallest number of premises."),
    ({"tiers-0-min_premises": "abc"}, "Not a valid integer value."),
    ({"tiers-0-min_premises": "-1"}, "Enter a number from 0 to 10,000."),
    ({"tiers-0-max_premises": "99999999999999"}, "Enter a number from 0 to 10,000."),
    ({"tiers-1-min_premises": "2"}, "The tiers for landlord overlap."),
    ({"tiers-0-max_premises": ""}, "The tiers for landlord overlap."),
    ({"tiers-1-max_premises": "1", "tiers-1-min_premises": "4"},
     "lowest number of premises is larger"),
    ({"effective": "2025-01"}, "A schedule already starts in Jan 2025."),
    ({"resident": "", "business": "", "tiers-0-min_premises": "", "tiers-0-max_premises": "",
      "tiers-0-amount": "", "tiers-1-min_premises": "", "tiers-1-max_premises": "",
      "tiers-1-amount": "", "tiers-2-min_premises": "", "tiers-2-amount": ""},
     "Give at least one rate."),
])
def test_bad_schedules_say_why_and_change_nothing(app, web, rates, overrides, message):
    web.login("treasurer")
    response = web.post("/ledger/rates/new", _rate_form(**overrides))
    assert response.status_code == 200
    assert message in _text(response)
    with app.app_context():
        assert count(DuesRate) == 5


def test_rates_listed_newest_first(app, web, rates):
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2099, 1, 1), [RateInput(Category.RESIDENT, 7000)], "AGM 2098",
                          None)
        db.session.commit()
    web.login("secretary")
    page = _text(web.get("/ledger/rates"))
    assert page.index("AGM 2098") < page.index(AGM_REF)
    assert "Not yet in force" in page and "In force" in page
    assert "New rate schedule" not in page


# --- Waivers ----------------------------------------------------------------------------


def _waiver_form(member_no, **overrides):
    data = {"member": member_no, "from_month": _ym(_last_month()), "to_month": "",
            "amount": "0", "reason": "Lost her job; agreed by the committee"}
    data.update(overrides)
    return data


def test_waiver_requested_then_approved_by_the_chair_and_applied(app, web, rates):
    web.login("secretary")
    response = web.post("/ledger/waivers/new", _waiver_form(rates.own_member_no),
                        follow_redirects=True)
    text = _text(response)
    assert "The waiver for Baraka Otieno (MLK-0001) awaits the chair&#39;s decision." in text
    assert "Waived entirely" in text and "until further notice" in text
    assert "Approve" not in text  # only the chair decides
    with app.app_context():
        waiver = db.session.scalar(sa.select(DuesWaiver))
        assert waiver.status == WaiverStatus.PENDING and waiver.amount_cents == 0
        waiver_id = waiver.id
    web.logout()
    web.login("treasurer")
    assert web.post(f"/ledger/waivers/{waiver_id}/decide",
                    {"decision": "approve"}).status_code == 403
    web.logout()
    web.login("chair")
    response = web.post(f"/ledger/waivers/{waiver_id}/decide", {"decision": "approve"},
                        follow_redirects=True)
    assert "The waiver for MLK-0001 is approved." in _text(response)
    again = web.post(f"/ledger/waivers/{waiver_id}/decide", {"decision": "reject"},
                     follow_redirects=True)
    assert "This waiver has already been decided." in _text(again)
    with app.app_context():
        assert db.session.get(DuesWaiver, waiver_id).status == WaiverStatus.APPROVED
    run = _text(web.post("/ledger/dues/run", {"month": _ym(_last_month())},
                         follow_redirects=True))
    assert re.search(r"Waived entirely</dt><dd>1<", run)
    assert "1 members charged, KES 50.00 in all" in run


def test_chair_rejects_a_reduction(app, web, rates):
    web.login("treasurer")
    web.post("/ledger/waivers/new", _waiver_form(rates.other_member_no, amount="20",
                                                 to_month=_ym(_this_month())))
    web.logout()
    with app.app_context():
        waiver = db.session.scalar(sa.select(DuesWaiver))
        assert waiver.amount_cents == 2000 and waiver.to_month == _this_month()
        waiver_id = waiver.id
    web.login("chair")
    response = web.post(f"/ledger/waivers/{waiver_id}/decide", {"decision": "reject"},
                        follow_redirects=True)
    text = _text(response)
    assert "The waiver for MLK-0002 is rejected." in text
    assert "KES 20.00 a month" in text and "Rejected" in text


def test_bad_decisions(app, web, rates):
    web.login("chair")
    assert web.post("/ledger/waivers/999999/decide", {"decision": "approve"}).status_code == 404
    with app.app_context(), acting_as("test"):
        from association.ledger.dues import request_waiver

        waiver = request_waiver(_member(rates.own_member_no), _last_month(), None, 0,
                                "Sick", None)
        db.session.commit()
        waiver_id = waiver.id
    for decision in ("", "maybe"):
        response = web.post(f"/ledger/waivers/{waiver_id}/decide", {"decision": decision},
                            follow_redirects=True)
        assert "Not a valid choice." in _text(response) or "Choose approve or reject." in _text(
            response)
    with app.app_context():
        assert db.session.get(DuesWaiver, waiver_id).status == WaiverStatus.PENDING


@pytest.mark.parametrize("overrides,message", [
    ({"member": ""}, "Enter the member number."),
    ({"member": "MLK-9999"}, "No member has the number MLK-9999."),
    ({"from_month": ""}, "Enter the first month, e.g. 2026-03."),
    ({"from_month": "abc"}, "abc is not a month."),
    ({"to_month": "2026-13"}, "2026-13 is not a month."),
    ({"to_month": "2020-01"}, "The last month cannot be before the first."),
    ({"amount": ""}, "Enter the reduced monthly amount"),
    ({"amount": "abc"}, "abc is not an amount"),
    ({"amount": "1,2,3"}, "1,2,3 is not an amount"),
    ({"amount": "-5"}, "The amount cannot be negative."),
    ({"amount": "10.005"}, "at most two decimal places"),
    ({"amount": "99999999999999"}, "too large to be right"),
    ({"reason": ""}, "Give the reason for the waiver."),
    ({"reason": "r" * 301}, "Field cannot be longer than 300 characters."),
])
def test_bad_waiver_requests_change_nothing(app, web, rates, overrides, message):
    web.login("treasurer")
    response = web.post("/ledger/waivers/new", _waiver_form(rates.own_member_no, **overrides))
    assert response.status_code == 200
    assert message in _text(response)
    with app.app_context():
        assert count(DuesWaiver) == 0


# --- Settings ---------------------------------------------------------------------------


def test_chair_switches_voluntary_contributions(app, web, rates):
    web.login("chair")
    page = _text(web.get("/ledger/settings"))
    assert "no monthly dues are charged and nobody falls into arrears" in page
    response = web.post("/ledger/settings", {"voluntary": "y"}, follow_redirects=True)
    assert "Voluntary contributions are on" in _text(response)
    with app.app_context():
        assert settings().voluntary_contributions is True
    response = web.post("/ledger/settings", {}, follow_redirects=True)
    assert "Voluntary contributions are off" in _text(response)
    with app.app_context():
        assert settings().voluntary_contributions is False


def test_settings_refused_to_the_treasurer(app, web, rates):
    web.login("treasurer")
    assert web.post("/ledger/settings", {"voluntary": "y"}).status_code == 403
    with app.app_context():
        assert settings().voluntary_contributions is False


def test_forms_without_csrf_token_are_refused(app, client, web, rates):
    web.login("chair")
    for url, data in (("/ledger/payments/new", _payment(rates.own_member_no)),
                      ("/ledger/dues/run", {"month": _ym(_last_month())}),
                      ("/ledger/settings", {"voluntary": "y"})):
        response = client.post(url, data=data)
        assert response.status_code in (200, 400), url
    with app.app_context():
        assert count(Payment) == 0 and count(DuesCharge) == 0
        assert settings().voluntary_contributions is False
