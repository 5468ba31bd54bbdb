"""``flask ledger bill`` and ``flask ledger pay``: same rules as the screens, exit 1 on errors."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger.balances import member_balance
from association.ledger.dues import RateInput, add_rate_schedule
from association.ledger.models import (
    DuesCharge,
    JournalEntry,
    Payment,
    PaymentMethod,
    Receipt,
)
from association.ledger.periods import close_month
from association.members.models import Category
from tests.conftest import count


def _last_month() -> date:
    return month_start(month_start(today_in_nairobi()) - timedelta(days=1))


@pytest.fixture
def rates(app, make_member):
    """Two residents and a landlord with 4 premises, and the rates in force since 2025."""
    own = make_member(first_name="Baraka", other_names="Otieno")
    other = make_member(first_name="Chebet", other_names="Kiprono")
    landlord = make_member(first_name="Mzee", other_names="Kamau", category=Category.LANDLORD,
                           rental_premises=4)
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), [
            RateInput(Category.RESIDENT, 5000),
            RateInput(Category.LANDLORD, 30000, 1, 2),
            RateInput(Category.LANDLORD, 60000, 3, 5),
        ], "AGM 2025-01-10, resolution 2", None)
        db.session.commit()
    return own, other, landlord


def test_bill_charges_once_and_prints_the_result(app, runner, rates):
    month = _last_month().strftime("%Y-%m")
    result = runner.invoke(args=["ledger", "bill", "--month", month])
    assert result.exit_code == 0, result.output
    assert f"Dues for {month}: 3 members charged, KES 700.00 in all" in result.output
    again = runner.invoke(args=["ledger", "bill", "--month", month])
    assert again.exit_code == 0
    assert "0 members charged" in again.output and "3 already charged" in again.output
    with app.app_context():
        assert count(DuesCharge) == 3 and count(JournalEntry) == 1
        actors = set(db.session.scalars(sa.select(AuditEvent.actor).where(
            AuditEvent.object_type == "dues_charge")))
        assert actors == {"cli:ledger-bill"}


@pytest.mark.parametrize("month,message", [
    ("abc", "abc is not a month."),
    ("2026-13", "2026-13 is not a month."),
    ("2999-01", "Dues can be run for the current month or earlier"),
    ("2020-01", "No dues rates apply to Jan 2020."),
])
def test_bill_refuses_bad_months_with_exit_1(app, runner, rates, month, message):
    result = runner.invoke(args=["ledger", "bill", "--month", month])
    assert result.exit_code == 1
    assert message in result.output
    with app.app_context():
        assert count(DuesCharge) == 0


def test_bill_needs_a_month(runner, rates):
    result = runner.invoke(args=["ledger", "bill"])
    assert result.exit_code == 2 and "--month" in result.output


def test_bill_refuses_a_closed_month(app, runner, rates):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    result = runner.invoke(args=["ledger", "bill", "--month", _last_month().strftime("%Y-%m")])
    assert result.exit_code == 1 and "is closed" in result.output
    with app.app_context():
        assert count(DuesCharge) == 0


def test_pay_prints_the_receipt_number_and_settles_the_oldest_month(app, runner, rates):
    (own_id, own_no), _other, _landlord = rates
    runner.invoke(args=["ledger", "bill", "--month", "2025-01"])
    runner.invoke(args=["ledger", "bill", "--month", "2025-02"])
    result = runner.invoke(args=["ledger", "pay", own_no.lower(), "70", "--method", "cash"])
    assert result.exit_code == 0, result.output
    year = today_in_nairobi().year
    assert result.output.strip() == f"MLK-{year}-000001"
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert payment.amount_cents == 7000 and payment.paid_on == today_in_nairobi()
        opens = dict(db.session.execute(
            sa.select(DuesCharge.month, DuesCharge.open_cents)
            .where(DuesCharge.member_id == own_id)).all())
        assert opens == {date(2025, 1, 1): 0, date(2025, 2, 1): 3000}
        assert member_balance(own_id) == 3000


def test_pay_by_mpesa_with_a_date(app, runner, rates):
    _own, (other_id, other_no), _landlord = rates
    day = (today_in_nairobi() - timedelta(days=3)).isoformat()
    result = runner.invoke(args=["ledger", "pay", other_no, "1,500", "--method", "mpesa",
                                 "--reference", "tc57abc9xy", "--date", day])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"MLK-\d{4}-000001", result.output.strip())
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment))
        assert payment.mpesa_code == "TC57ABC9XY" and payment.method == PaymentMethod.MPESA
        assert payment.paid_on.isoformat() == day and payment.amount_cents == 150000
        assert member_balance(other_id) == -150000
        actor = db.session.scalar(sa.select(AuditEvent.actor).where(
            AuditEvent.object_type == "payment"))
        assert actor == "cli:ledger-pay"


@pytest.mark.parametrize("args,message", [
    (["MLK-0001", "abc", "--method", "cash"], "abc is not an amount"),
    (["MLK-0001", "1,2,3", "--method", "cash"], "1,2,3 is not an amount"),
    (["MLK-0001", "0", "--method", "cash"], "The amount must be more than zero."),
    (["MLK-0001", "10.005", "--method", "cash"], "at most two decimal places"),
    (["MLK-0001", "99999999999999", "--method", "cash"], "too large to be right"),
    (["MLK-9999", "50", "--method", "cash"], "No member has the number MLK-9999."),
    (["MLK-0001", "50", "--method", "mpesa"], "Enter the M-Pesa code"),
    (["MLK-0001", "50", "--method", "cash", "--date", "2025-02-30"], "is not a date"),
    (["MLK-0001", "50", "--method", "cash", "--date", "2999-01-01"],
     "A payment cannot be dated in the future."),
])
def test_pay_refuses_bad_input_with_exit_1(app, runner, rates, args, message):
    result = runner.invoke(args=["ledger", "pay", *args])
    assert result.exit_code != 0
    if message is not None:
        assert result.exit_code == 1
        assert message in result.output
    with app.app_context():
        assert count(Payment) == 0 and count(Receipt) == 0 and count(JournalEntry) == 0


def test_pay_negative_amount_after_double_dash(app, runner, rates):
    result = runner.invoke(args=["ledger", "pay", "--method", "cash", "MLK-0001", "--", "-50"])
    assert result.exit_code == 1
    assert "The amount must be more than zero." in result.output


def test_pay_refuses_an_unknown_method(app, runner, rates):
    result = runner.invoke(args=["ledger", "pay", "MLK-0001", "50", "--method", "paypal"])
    assert result.exit_code == 2 and "paypal" in result.output
    with app.app_context():
        assert count(Payment) == 0


def test_pay_refuses_a_duplicate_mpesa_code(app, runner, rates):
    first = runner.invoke(args=["ledger", "pay", "MLK-0001", "50", "--method", "mpesa",
                                "--reference", "TC57ABC9XY"])
    assert first.exit_code == 0
    second = runner.invoke(args=["ledger", "pay", "MLK-0002", "50", "--method", "mpesa",
                                 "--reference", "TC57ABC9XY"])
    assert second.exit_code == 1
    assert "The M-Pesa code TC57ABC9XY is already in the books." in second.output
    with app.app_context():
        assert count(Payment) == 1 and count(Receipt) == 1


def test_pay_refuses_a_closed_month(app, runner, rates):
    with app.app_context(), acting_as("test"):
        close_month(_last_month(), None)
        db.session.commit()
    day = _last_month().replace(day=10).isoformat()
    result = runner.invoke(args=["ledger", "pay", "MLK-0001", "50", "--method", "cash",
                                 "--date", day])
    assert result.exit_code == 1
    assert "is closed: nothing can be posted in it" in result.output
    with app.app_context():
        assert count(Payment) == 0 and count(Receipt) == 0
