"""One balance, computed in one place (ledger/standing.py), and the same figure with the
same words on every surface: the statement (page and PDF), the pay page, the payment form,
the arrears list, the receipt (page, PDF and SMS) and the member's home.

Members in arrears, paid up, paying ahead, waived, and paying this month before its dues
run, before and after that run.
"""

import html
import re
from datetime import date

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import force_locale

from association.audit.services import acting_as
from association.auth.models import Role
from association.core.time import add_months, month_start, today_in_nairobi
from association.extensions import db
from association.ledger import receipts as R
from association.ledger.dues import (
    RateInput,
    add_rate_schedule,
    bill_month,
    decide_waiver,
    request_waiver,
)
from association.ledger.models import PaymentMethod, Receipt
from association.ledger.payments import record_payment
from association.ledger.standing import standing_of
from association.members.models import Member
from tests.meetings.conftest import pdf_text

THIS = month_start(today_in_nairobi())
PAST = [add_months(THIS, -3), add_months(THIS, -2), add_months(THIS, -1)]


def _month(month: date) -> str:
    return format_date(month, "MMM yyyy", locale="en")


def _pairs(page: str) -> dict[str, str]:
    """The first value of each <dt> label on a page, as plain text."""
    found = {}
    for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S):
        label = html.unescape(re.sub(r"<[^>]+>", "", label)).strip()
        found.setdefault(label, html.unescape(re.sub(r"<[^>]+>", "", value)).strip())
    return found


def _shown(pairs: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    return pairs.get("Balance"), pairs.get("Paid up to"), pairs.get("Paid in advance")


def _pdf_text(content: bytes, tmp_path) -> str:
    return " ".join(pdf_text(content, tmp_path).split())


@pytest.fixture
def members(app, make_member, make_user):
    """Five residents (KES 50 a month), each with a member login, charged for the last three
    months; returns {name: (member id, member number)}."""
    made = {}
    for name in ("arrears", "paid_up", "ahead", "waived", "early"):
        member_id, number = make_member(first_name=name.title(), other_names="Test",
                                        joined_on=add_months(THIS, -4))
        make_user(name, Role.MEMBER, member_id=member_id)
        made[name] = (member_id, number)
    make_user("treasurer", Role.TREASURER)
    with app.app_context(), acting_as("test"):
        add_rate_schedule(add_months(THIS, -6), [RateInput(*c) for c in (
            ("resident", 5000), ("landlord", 30000, 1, None))], "AGM resolution 2", None)
        waiver = request_waiver(db.session.get(Member, made["waived"][0]), PAST[1], None, 0,
                                "Lost her job", None)
        decide_waiver(waiver, True, None)
        for month in PAST:
            bill_month(month)
        db.session.commit()
    return made


def _pay(app, member_id: int, cents: int) -> str:
    with app.app_context(), acting_as("test"):
        payment = record_payment(db.session.get(Member, member_id), cents, PaymentMethod.CASH,
                                 today_in_nairobi(), None)
        db.session.commit()
        return payment.receipt.number


def _surfaces(app, web, tmp_path, member_id: int, number: str, username: str,
              receipt: str | None) -> dict[str, tuple]:
    """(balance, paid up to, paid in advance) as each surface shows them."""
    seen = {}
    web.login("treasurer")
    seen["statement"] = _shown(_pairs(web.get(f"/members/{member_id}/statement").text))
    pdf = _pdf_text(web.get(f"/members/{member_id}/statement?format=pdf").data, tmp_path)
    seen["statement PDF"] = tuple(
        (m.group(1) if (m := re.search(re.escape(label) + r":? (KES [\d,.]+|\w{3} \d{4})", pdf))
         else None) for label in ("Balance", "Paid up to", "Paid in advance"))
    seen["payment form"] = _shown(_pairs(web.get(f"/ledger/payments/new?member={number}").text))
    arrears = web.get("/reports/arrears").text
    row = re.search(r"<tr>(?:(?!</tr>).)*?>" + re.escape(number) + r"</a>.*?</tr>", arrears,
                    re.S)
    if row:
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]
        seen["arrears list"] = (cells[-2], cells[6] or None, None)  # the last: the action
    else:
        seen["arrears list"] = ("KES 0.00",)  # not listed: owes nothing
    web.logout()
    web.login(username)
    seen["pay page"] = _shown(_pairs(web.get("/mpesa/pay").text))
    seen["member's home"] = _shown(_pairs(web.get("/").text))
    if receipt:
        seen["receipt"] = _shown(_pairs(web.get(f"/receipts/{receipt}").text.split(
            "After this payment", 1)[-1]))
    web.logout()
    return seen


def _expected(app, member_id: int) -> tuple:
    with app.app_context(), force_locale("en"):
        standing = standing_of(member_id)
        lines = dict(standing.lines())
        return lines.get("Balance"), lines.get("Paid up to"), lines.get("Paid in advance")


def test_every_surface_shows_the_same_standing(app, web, members, tmp_path):
    receipts = {
        "arrears": _pay(app, members["arrears"][0], 5000),          # Sep paid; two months owed
        "paid_up": _pay(app, members["paid_up"][0], 15000),         # the three months charged
        "ahead": _pay(app, members["ahead"][0], 30000),             # three, this and two ahead
        "waived": _pay(app, members["waived"][0], 5000),            # the one month charged
        "early": _pay(app, members["early"][0], 20000),             # three and this month
    }
    expected_before = {
        "arrears": ("KES 100.00", _month(PAST[0]), None),
        "paid_up": ("KES 0.00", _month(PAST[2]), None),
        "ahead": ("KES 0.00", _month(add_months(THIS, 2)), "KES 100.00"),
        "waived": ("KES 0.00", _month(THIS), None),
        # Paid this month before its dues run: paid up to this month, not "in credit".
        "early": ("KES 0.00", _month(THIS), None),
    }
    for name, want in expected_before.items():
        member_id, number = members[name]
        assert _expected(app, member_id) == want, name
        seen = _surfaces(app, web, tmp_path, member_id, number, name, receipts[name])
        for surface, shown in seen.items():
            assert shown == want[:len(shown)], (name, surface, shown, want)
        with app.app_context(), force_locale("en"):
            receipt = db.session.scalar(sa.select(Receipt).where(Receipt.number == receipts[name]))
            sms = R.receipt_sms(receipt, "en", url="http://x.ke/v")
            pdf = _pdf_text(R_pdf(receipt), tmp_path)
            summary = standing_of(member_id).summary()
        assert f"alance {want[0]}" in summary
        assert summary in pdf, (name, pdf)
        assert summary in sms or len(sms) > 100, (name, sms)  # kept when it fits in 160

    # This month's dues run: charged once posted, whatever the entry's date (month end).
    with app.app_context(), acting_as("test"):
        bill_month(THIS)
        db.session.commit()
    expected_after = {
        "arrears": ("KES 150.00", _month(PAST[0]), None),
        "paid_up": ("KES 50.00", _month(PAST[2]), None),
        "ahead": ("KES 0.00", _month(add_months(THIS, 2)), "KES 100.00"),
        "waived": ("KES 0.00", _month(THIS), None),
        "early": ("KES 0.00", _month(THIS), None),
    }
    for name, want in expected_after.items():
        member_id, number = members[name]
        assert _expected(app, member_id) == want, name
        seen = _surfaces(app, web, tmp_path, member_id, number, name, None)
        for surface, shown in seen.items():
            assert shown == want[:len(shown)], (name, surface, shown, want)
    # A receipt keeps what it said: where the member stood right after that payment.
    web.login("paid_up")
    after = _shown(_pairs(web.get(f"/receipts/{receipts['paid_up']}").text.split(
        "After this payment", 1)[-1]))
    assert after == expected_before["paid_up"]


def R_pdf(receipt) -> bytes:
    from association.ledger.receipt_pdf import render_receipt_pdf

    return render_receipt_pdf(receipt, "a5", "en", url="http://x.ke/v")


def test_standing_words_in_kiswahili(app, members):
    member_id = members["ahead"][0]
    _pay(app, member_id, 30000)
    with app.app_context(), force_locale("sw"):
        summary = standing_of(member_id).summary()
    # "Deni" (what is owed), not "salio", which an M-Pesa user reads as money they hold.
    assert summary.startswith("Imelipwa hadi: ") and "deni KES 0.00" in summary
    assert "imelipwa mapema KES 100.00" in summary


def test_a_voided_payment_leaves_the_standing_as_before(app, web, members):
    from association.ledger.payments import void_receipt

    member_id, _number = members["arrears"]
    number = _pay(app, member_id, 15000)
    with app.app_context():
        assert standing_of(member_id).balance_cents == 0
    with app.app_context(), acting_as("test"):
        void_receipt(db.session.scalar(sa.select(Receipt).where(Receipt.number == number)),
                     "Entered twice", None)
        db.session.commit()
    with app.app_context():
        standing = standing_of(member_id)
        assert (standing.balance_cents, standing.paid_up_to) == (15000, None)
    web.login("arrears")
    page = web.get(f"/receipts/{number}").text
    assert "After this payment" not in page  # a void receipt claims no standing


def test_credit_held_beside_unpaid_months_settles_the_oldest_first(app, web, members):
    """A voided receipt reopens months while a later payment sits as credit: the credit
    counts against the oldest months, everywhere, until the next dues run applies it."""
    from association.ledger.payments import void_receipt

    member_id, number = members["arrears"]
    first = _pay(app, member_id, 15000)   # the three months charged
    _pay(app, member_id, 10000)           # this month and the next, ahead
    with app.app_context(), acting_as("test"):
        void_receipt(db.session.scalar(sa.select(Receipt).where(Receipt.number == first)),
                     "Cheque bounced", None)
        db.session.commit()
    with app.app_context(), force_locale("en"):
        standing = standing_of(member_id)
        assert (standing.balance_cents, standing.paid_up_to, standing.advance_cents) == \
            (5000, PAST[1], 0)
        assert (standing.unpaid_months, standing.oldest_unpaid) == (1, PAST[2])
    web.login("treasurer")
    arrears = web.get("/reports/arrears").text
    row = re.search(r"<tr>(?:(?!</tr>).)*?>" + re.escape(number) + r"</a>.*?</tr>", arrears,
                    re.S).group(0)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[4:7] == ["1", _month(PAST[2]), _month(PAST[1])]
    assert cells[-2] == "KES 50.00"
    with app.app_context():
        from association.ledger.reports import arrears, arrears_totals

        figures = arrears().figures
        # The treasurer's home counts the arrears without building the list, the same way.
        assert arrears_totals() == (figures["members"], figures["total"]) == (5, 55000)


def test_paid_up_to_counts_a_rate_adopted_for_a_later_month(app, members):
    member_id = members["ahead"][0]
    with app.app_context(), acting_as("test"):
        add_rate_schedule(add_months(THIS, 1), [RateInput(*c) for c in (
            ("resident", 10000), ("landlord", 30000, 1, None))], "AGM resolution 7", None)
        db.session.commit()
    _pay(app, member_id, 15000 + 30000)  # three months owed, then 300 ahead
    with app.app_context():
        standing = standing_of(member_id)
    # This month 50, then 100 a month: the 250 paid for later months covers two of them.
    assert (standing.paid_up_to, standing.advance_cents) == (add_months(THIS, 2), 25000)


def test_a_receipt_keeps_saying_where_the_member_stood(app, web, members):
    """What a receipt says after its payment does not move with later decisions."""
    member_id = members["early"][0]
    number = _pay(app, member_id, 15000 + 10000)  # three months, this month and the next
    web.login("early")
    before = web.get(f"/receipts/{number}").text.split("After this payment", 1)[-1]
    assert _shown(_pairs(before)) == ("KES 0.00", _month(add_months(THIS, 1)), "KES 50.00")
    with app.app_context(), acting_as("test"):
        waiver = request_waiver(db.session.get(Member, member_id), add_months(THIS, 1), None,
                                0, "Hospital bills", None)
        decide_waiver(waiver, True, None)
        db.session.commit()
        now = standing_of(member_id)
    assert now.paid_up_to == THIS  # a waived month still to come is not "paid"
    after = web.get(f"/receipts/{number}").text.split("After this payment", 1)[-1]
    assert _shown(_pairs(after)) == _shown(_pairs(before))


def test_a_statement_from_later_this_month_runs_to_its_end(web, members):
    web.login("treasurer")
    start = today_in_nairobi()
    response = web.get(f"/members/{members['arrears'][0]}/statement?from={start.isoformat()}")
    assert response.status_code == 200
