"""The rules of the books, called directly."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.core.money import AmountError, format_kes, to_cents
from association.core.time import month_end, today_in_nairobi
from association.extensions import db
from association.ledger import (
    accounts,
    balances,
    dues,
    errors,
    journal,
    payments,
    periods,
    settings,
    trial_balance,
)
from association.ledger.journal import Line
from association.ledger.models import (
    AccountMonthTotal,
    Allocation,
    DuesCharge,
    EntrySource,
    JournalEntry,
    PaymentMethod,
    Posting,
    Receipt,
    Side,
)
from association.members.models import Category, Member, MemberStatus
from association.members.services import change_status, register_member
from tests.conftest import member_data
from tests.ledger.conftest import EXAMPLE_RATES


def _member(zone_id, **kw) -> Member:
    return register_member(member_data(zone_id, joined_on=date(2024, 6, 1), **kw))


def _open(member_id):
    return [(c.month, c.open_cents) for c in db.session.scalars(
        sa.select(DuesCharge).where(DuesCharge.member_id == member_id).order_by(DuesCharge.month))]


# --- money at the edges ---------------------------------------------------

@pytest.mark.parametrize("typed,cents", [
    ("50", 5000), ("1,500", 150000), ("1500.5", 150050), ("0.01", 1), ("KES 300", 30000),
    (" 12 345.67 ", 1234567), ("1,500.50", 150050), ("KES 1,500", 150000), ("007", 700),
    ("50.50", 5050), ("50.500", 5050),
])
def test_amounts_become_cents(typed, cents):
    assert to_cents(typed) == cents


@pytest.mark.parametrize("typed,message", [
    ("", "Enter an amount"), ("-5", "more than zero"), ("0", "more than zero"),
    ("0.00", "more than zero"), ("10.005", "two decimal places"), ("abc", "not an amount"),
    ("1e5", "not an amount"), ("99999999999999", "too large"),
    ("1,2,3", "not an amount"), ("15,00", "not an amount"), (",500", "not an amount"),
    ("1,500,", "not an amount"), ("5O", "not an amount"), ("1.5.0", "not an amount"),
    ("100000001", "too large"), ("1.2.3", "not an amount"), (None, "Enter an amount"),
])
def test_bad_amounts_are_refused(typed, message):
    with pytest.raises(AmountError, match=message):
        to_cents(typed)


def test_zero_only_where_allowed():
    assert to_cents("0", allow_zero=True) == 0
    assert to_cents("KES 0.00", allow_zero=True) == 0
    with pytest.raises(AmountError, match="cannot be negative"):
        to_cents("-1", allow_zero=True)


def test_format_kes():
    assert format_kes(150000) == "KES 1,500.00"
    assert format_kes(-5) == "-KES 0.05"


# --- posting --------------------------------------------------------------

def test_entries_must_balance_and_have_two_lines(books):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    with pytest.raises(errors.UnbalancedEntryError):
        journal.post_entry(date(2025, 2, 1), "x", EntrySource.ADJUSTMENT,
                     [Line(cash, Side.DEBIT, 100), Line(income, Side.CREDIT, 99)])
    with pytest.raises(errors.UnbalancedEntryError):
        journal.post_entry(date(2025, 2, 1), "x", EntrySource.ADJUSTMENT,
                           [Line(cash, Side.DEBIT, 100)])
    with pytest.raises(errors.UnbalancedEntryError):
        journal.post_entry(date(2025, 2, 1), "x", EntrySource.ADJUSTMENT,
                     [Line(cash, Side.DEBIT, 0), Line(income, Side.CREDIT, 0)])
    with pytest.raises(errors.UnbalancedEntryError):
        journal.post_entry(date(2025, 2, 1), "x", EntrySource.ADJUSTMENT,
                     [Line(cash, Side.DEBIT, 10.5), Line(income, Side.CREDIT, 10.5)])
    assert db.session.scalar(sa.select(sa.func.count(JournalEntry.id))) == 0
    entry = journal.post_entry(date(2025, 2, 1), "Donation from a well-wisher",
                               EntrySource.ADJUSTMENT,
                               [Line(cash, Side.DEBIT, 100_000),
                                Line(income, Side.CREDIT, 100_000)])
    assert sum(p.signed_cents for p in entry.postings) == 0


def test_posted_entries_can_never_be_changed_or_deleted(books):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry = journal.post_entry(date(2025, 2, 1), "Gift", EntrySource.ADJUSTMENT,
                         [Line(cash, Side.DEBIT, 500), Line(income, Side.CREDIT, 500)])
    db.session.commit()
    entry.postings[0].amount_cents = 5000
    with pytest.raises(errors.PostedEntryError):
        db.session.flush()
    db.session.rollback()
    entry = db.session.scalar(sa.select(JournalEntry))
    entry.memo = "changed"
    with pytest.raises(errors.PostedEntryError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalar(sa.select(Posting)))
    with pytest.raises(errors.PostedEntryError):
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(sa.select(Posting.amount_cents).order_by(Posting.id)) == 500


def test_a_correction_is_a_reversing_entry_pointing_at_the_original(books):
    cash, income = accounts.account("cash").id, accounts.account("donations").id
    entry = journal.post_entry(date(2025, 2, 1), "Gift", EntrySource.ADJUSTMENT,
                         [Line(cash, Side.DEBIT, 500), Line(income, Side.CREDIT, 500)])
    reversal = journal.reverse_entry(entry, "Entered twice", None, on=date(2025, 2, 2))
    assert reversal.reverses_id == entry.id and reversal.source == EntrySource.REVERSAL
    assert trial_balance.trial_balance().rows == []
    with pytest.raises(errors.AlreadyVoidedError):
        journal.reverse_entry(entry, "again", None, on=date(2025, 2, 3))


def test_closed_months_refuse_postings_until_the_chair_reopens(books):
    periods.close_month(date(2025, 3, 1), None)
    with pytest.raises(errors.ClosedPeriodError, match="Mar 2025 is closed"):
        dues.bill_month(date(2025, 3, 1))
    member = _member(books.zone_id)
    with pytest.raises(errors.ClosedPeriodError):
        payments.record_payment(member, 5000, PaymentMethod.CASH, date(2025, 3, 15), None)
    with pytest.raises(errors.LedgerError):
        periods.close_month(date(2025, 3, 1), None)
    with pytest.raises(errors.LedgerError, match="reason"):
        periods.reopen_month(date(2025, 3, 1), "", None)
    periods.reopen_month(date(2025, 3, 1), "Late M-Pesa statement found", None)
    assert dues.bill_month(date(2025, 3, 1)).charged == 1
    with pytest.raises(errors.LedgerError, match="after it has ended"):
        periods.close_month(today_in_nairobi(), None)


# --- dues -----------------------------------------------------------------

def test_billing_charges_the_rate_in_force_once(books):
    resident = _member(books.zone_id)
    small = _member(books.zone_id, category=Category.LANDLORD, rental_premises=2)
    big = _member(books.zone_id, category=Category.LANDLORD, rental_premises=15)
    shop = _member(books.zone_id, category=Category.BUSINESS)
    first = dues.bill_month(date(2025, 2, 1))
    assert (first.charged, first.total_cents) == (4, 5_000 + 30_000 + 150_000 + 20_000)
    again = dues.bill_month(date(2025, 2, 1))
    assert (again.charged, again.already_charged) == (0, 4)
    charges = dict(db.session.execute(
        sa.select(DuesCharge.member_id, DuesCharge.amount_cents)).all())
    assert charges == {resident.id: 5_000, small.id: 30_000, big.id: 150_000, shop.id: 20_000}
    assert balances.member_balance(big.id) == 150_000


def test_a_rate_change_never_alters_past_charges(books):
    member = _member(books.zone_id)
    dues.bill_month(date(2025, 5, 1))
    dues.add_rate_schedule(date(2025, 6, 1),
                        [*EXAMPLE_RATES[1:], dues.RateInput(Category.RESIDENT, 10_000)],
                        "Baraza 2025-05-24, resolution 2", None)
    dues.bill_month(date(2025, 6, 1))
    assert _open(member.id) == [(date(2025, 5, 1), 5_000), (date(2025, 6, 1), 10_000)]
    with pytest.raises(errors.RateError):
        dues.add_rate_schedule(date(2025, 6, 1), EXAMPLE_RATES, "again", None)


@pytest.mark.parametrize("rates,ref,message", [
    ([dues.RateInput(Category.RESIDENT, 5000)], "", "resolution"),
    ([], "AGM", "at least one"),
    ([dues.RateInput(Category.RESIDENT, 0)], "AGM", "more than zero"),
    ([dues.RateInput(Category.LANDLORD, 300, 1, 5), dues.RateInput(Category.LANDLORD, 600, 5, 9)],
     "AGM", "overlap"),
    ([dues.RateInput(Category.LANDLORD, 300, 6, 2)], "AGM", "lowest number of premises is larger"),
])
def test_bad_rate_schedules(books, rates, ref, message):
    with pytest.raises(errors.RateError, match=message):
        dues.add_rate_schedule(date(2026, 1, 1), rates, ref, None)


def test_a_schedule_cannot_start_in_a_billed_or_closed_month(books):
    _member(books.zone_id)
    dues.bill_month(date(2025, 5, 1))
    new = [dues.RateInput(Category.RESIDENT, 10_000)]
    with pytest.raises(errors.RateError, match="already been charged"):
        dues.add_rate_schedule(date(2025, 5, 1), new, "Baraza 2025-05-24, resolution 2", None)
    with pytest.raises(errors.RateError, match="already been charged"):
        dues.add_rate_schedule(date(2025, 3, 1), new, "Baraza 2025-05-24, resolution 2", None)
    periods.close_month(date(2025, 8, 1), None)
    with pytest.raises(errors.RateError, match="closed"):
        dues.add_rate_schedule(date(2025, 8, 1), new, "Baraza 2025-07-24, resolution 2", None)
    assert dues.schedule_for(date(2025, 9, 1))[0].resolution_ref == "AGM 2025-01-18, resolution 4"


def test_dues_cannot_be_run_for_a_month_still_to_come(books):
    _member(books.zone_id)
    next_month = month_end(today_in_nairobi()) + timedelta(days=1)
    with pytest.raises(errors.LedgerError, match="current month or earlier"):
        dues.bill_month(next_month)
    assert db.session.scalar(sa.select(sa.func.count(DuesCharge.id))) == 0


def test_who_is_not_charged(books):
    later = register_member(member_data(books.zone_id, joined_on=date(2025, 3, 10)))
    suspended = _member(books.zone_id)
    left = _member(books.zone_id)
    change_status(suspended, MemberStatus.SUSPENDED, date(2025, 1, 20), "No dues", None)
    change_status(left, MemberStatus.LEFT, date(2025, 2, 10), "Moved", None)
    result = dues.bill_month(date(2025, 2, 1))
    assert (result.charged, result.joined_later, result.not_active) == (0, 1, 2)
    jan = dues.bill_month(date(2025, 1, 1))
    assert jan.charged == 1  # the member who left in February was active all January
    assert dues.bill_month(date(2025, 3, 1)).charged == 1  # the newcomer, joined in March
    assert _open(later.id) == [(date(2025, 3, 1), 5_000)]


def test_voluntary_contributions_charge_nothing(books):
    member = _member(books.zone_id)
    settings.set_voluntary(True)
    with pytest.raises(errors.LedgerError, match="voluntary"):
        dues.bill_month(date(2025, 2, 1))
    payment = payments.record_payment(member, 7_500, PaymentMethod.CASH, date(2025, 2, 3), None)
    assert payment.allocations == [] and balances.member_balance(member.id) == 0
    income = {r.account.key: r.credit_cents for r in trial_balance.trial_balance().rows}
    assert income["residents_dues"] == 7_500


def test_waivers_count_only_once_the_chair_approves(books):
    member = _member(books.zone_id, category=Category.LANDLORD, rental_premises=4)
    waiver = dues.request_waiver(member, date(2025, 2, 1), date(2025, 3, 1), 0,
                              "Landlord's houses burnt in the February fire", None)
    assert dues.bill_month(date(2025, 2, 1)).charged == 1  # still pending: charged in full
    dues.decide_waiver(waiver, True, None)
    result = dues.bill_month(date(2025, 3, 1))
    assert (result.charged, result.waived) == (0, 1)
    assert dues.bill_month(date(2025, 4, 1)).total_cents == 60_000
    with pytest.raises(errors.WaiverError):
        dues.decide_waiver(waiver, False, None)
    with pytest.raises(errors.WaiverError):
        dues.request_waiver(member, date(2025, 5, 1), date(2025, 4, 1), 0, "x", None)
    with pytest.raises(errors.WaiverError):
        dues.request_waiver(member, date(2025, 5, 1), None, 0, "  ", None)


# --- payments -------------------------------------------------------------

def test_payments_settle_the_oldest_months_first_and_keep_the_rest_as_credit(books):
    member = _member(books.zone_id)
    for month in (1, 2, 3):
        dues.bill_month(date(2025, month, 1))
    payment = payments.record_payment(member, 12_000, PaymentMethod.MPESA, date(2025, 3, 20), None,
                               reference="tc57 abc9xy")
    assert payment.mpesa_code == "TC57ABC9XY"
    assert _open(member.id) == [(date(2025, 1, 1), 0), (date(2025, 2, 1), 0),
                                (date(2025, 3, 1), 3_000)]
    payments.record_payment(member, 10_000, PaymentMethod.CASH, date(2025, 3, 21), None)
    assert _open(member.id)[-1] == (date(2025, 3, 1), 0)
    assert balances.member_balance(member.id) == -7_000  # credit
    april = dues.bill_month(date(2025, 4, 1))
    assert april.credit_applied_cents == 5_000
    assert _open(member.id)[-1] == (date(2025, 4, 1), 0)
    assert balances.member_balance(member.id) == -2_000


def test_duplicate_mpesa_codes_are_refused(books):
    member = _member(books.zone_id)
    payments.record_payment(member, 5_000, PaymentMethod.MPESA, date(2025, 2, 1), None,
                     reference="TC57ABC9XY")
    with pytest.raises(errors.DuplicatePaymentError):
        payments.record_payment(member, 5_000, PaymentMethod.MPESA, date(2025, 2, 2), None,
                         reference="tc57abc9xy")
    with pytest.raises(errors.LedgerError, match="M-Pesa code"):
        payments.record_payment(member, 5_000, PaymentMethod.MPESA, date(2025, 2, 2), None)
    with pytest.raises(errors.LedgerError, match="M-Pesa code"):
        payments.record_payment(member, 5_000, PaymentMethod.MPESA, date(2025, 2, 2), None,
                         reference="TC57-ABC!")
    assert db.session.scalar(sa.select(sa.func.count(Receipt.id))) == 1


def test_a_bank_reference_longer_than_the_books_keep_is_refused(books):
    member = _member(books.zone_id)
    with pytest.raises(errors.LedgerError, match="at most 40"):
        payments.record_payment(member, 5_000, PaymentMethod.BANK, date(2025, 2, 1), None,
                         reference="EQ" + "7" * 39)
    assert db.session.scalar(sa.select(sa.func.count(Receipt.id))) == 0
    payments.record_payment(member, 5_000, PaymentMethod.BANK, date(2025, 2, 1), None,
                     reference="EQ" + "7" * 38)
    assert db.session.scalar(sa.select(sa.func.count(Receipt.id))) == 1


@pytest.mark.parametrize("amount", [0, -100, 10**15, 12.5])
def test_bad_payment_amounts(books, amount):
    member = _member(books.zone_id)
    with pytest.raises(errors.LedgerError):
        payments.record_payment(member, amount, PaymentMethod.CASH, date(2025, 2, 1), None)


def test_future_payments_are_refused(books):
    with pytest.raises(errors.LedgerError, match="future"):
        payments.record_payment(_member(books.zone_id), 100, PaymentMethod.CASH,
                                date(2999, 1, 1), None)


def test_receipts_are_numbered_per_year_without_gaps(books):
    member = _member(books.zone_id)
    numbers = [payments.record_payment(member, 100, PaymentMethod.CASH, date(2025, 2, 1), None)
               .receipt.number for _ in range(3)]
    year = today_in_nairobi().year
    assert numbers == [f"MLK-{year}-{n:06d}" for n in (1, 2, 3)]


def test_voiding_reverses_the_payment_and_reopens_its_months(books):
    member = _member(books.zone_id)
    dues.bill_month(date(2025, 1, 1))
    dues.bill_month(date(2025, 2, 1))
    payment = payments.record_payment(member, 10_000, PaymentMethod.CASH, date(2025, 2, 5), None)
    receipt = payments.void_receipt(payment.receipt, "Cash was counterfeit", None)
    assert receipt.is_void and receipt.void_entry_id
    assert balances.member_balance(member.id) == 10_000
    assert _open(member.id) == [(date(2025, 1, 1), 5_000), (date(2025, 2, 1), 5_000)]
    with pytest.raises(errors.AlreadyVoidedError):
        payments.void_receipt(receipt, "again", None)
    with pytest.raises(errors.LedgerError, match="reason"):
        payments.void_receipt(payments.record_payment(member, 100, PaymentMethod.CASH,
                                                      date(2025, 2, 5), None).receipt,
                              "", None)
    assert db.session.scalar(sa.select(Receipt.number).where(Receipt.id == receipt.id))


def test_voiding_a_payment_whose_credit_was_spent_reopens_those_months(books):
    member = _member(books.zone_id)
    dues.bill_month(date(2025, 1, 1))
    payment = payments.record_payment(member, 12_500, PaymentMethod.CASH, date(2025, 1, 5), None)
    dues.bill_month(date(2025, 2, 1))
    dues.bill_month(date(2025, 3, 1))  # credit 7,500 settles Feb and half of March
    assert _open(member.id) == [(date(2025, 1, 1), 0), (date(2025, 2, 1), 0),
                                (date(2025, 3, 1), 2_500)]
    payments.void_receipt(payment.receipt, "Paid by mistake for another member", None)
    assert balances.member_balance(member.id) == 15_000
    assert _open(member.id) == [(date(2025, 1, 1), 5_000), (date(2025, 2, 1), 5_000),
                                (date(2025, 3, 1), 5_000)]
    assert balances.credit_balances([member.id]) == {}
    live = db.session.scalars(sa.select(Allocation).where(
        Allocation.reversed_by_entry_id.is_(None))).all()
    assert sum(a.amount_cents for a in live) == 0


def test_the_trial_balance_always_sums_to_zero(books):
    members = [_member(books.zone_id, category=c, rental_premises=p) for c, p in (
        (Category.RESIDENT, None), (Category.LANDLORD, 7), (Category.BUSINESS, None))]
    for month in range(1, 5):
        dues.bill_month(date(2025, month, 1))
    payments.record_payment(members[0], 30_000, PaymentMethod.MPESA, date(2025, 4, 2), None,
                     reference="TD11AAA111")
    paid = payments.record_payment(members[1], 100_000, PaymentMethod.BANK, date(2025, 4, 3), None,
                            reference="EQ-5541")
    payments.void_receipt(paid.receipt, "Bank reversed the deposit", None)
    tb = trial_balance.trial_balance()
    assert tb.total_debit_cents == tb.total_credit_cents > 0
    by_key = {r.account.key: r for r in tb.rows}
    assert by_key["landlords_levy"].credit_cents == 4 * 100_000
    assert by_key["member_credit"].credit_cents == 10_000


def _naive_trial_balance(start, as_of):
    """The trial balance added up from every posting: what the month totals must give."""
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    stmt = (sa.select(Posting.account_id, sa.func.sum(signed))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .group_by(Posting.account_id))
    if start:
        stmt = stmt.where(JournalEntry.entry_date >= start)
    if as_of:
        stmt = stmt.where(JournalEntry.entry_date <= as_of)
    return {a: int(t) for a, t in db.session.execute(stmt) if t}


def test_month_totals_give_the_same_trial_balance_for_any_period(books):
    members = [_member(books.zone_id, category=c, rental_premises=p) for c, p in (
        (Category.RESIDENT, None), (Category.LANDLORD, 4))]
    for month in range(1, 6):
        dues.bill_month(date(2025, month, 1))
    for day, amount in ((date(2025, 2, 14), 30_000), (date(2025, 3, 1), 7_000),
                        (date(2025, 3, 31), 90_000), (date(2025, 5, 17), 5_000)):
        payment = payments.record_payment(members[day.day % 2], amount, PaymentMethod.CASH, day,
                                          None)
    payments.void_receipt(payment.receipt, "Counted twice", None)
    assert journal.month_totals_differences() == []
    spans = [(None, None), (None, date(2025, 3, 15)), (date(2025, 2, 10), None),
             (date(2025, 2, 10), date(2025, 2, 20)), (date(2025, 3, 1), date(2025, 3, 31)),
               (date(2025, 2, 28), date(2025, 4, 1)), (date(2025, 1, 1), date(2025, 5, 31)),
               (date(2025, 6, 1), date(2025, 6, 30)), (date(2025, 3, 31), date(2025, 3, 31))]
    for start, as_of in spans:
        tb = trial_balance.trial_balance(as_of=as_of, start=start)
        got = {r.account.id: r.debit_cents - r.credit_cents for r in tb.rows}
        assert got == _naive_trial_balance(start, as_of), (start, as_of)
        assert tb.total_debit_cents == tb.total_credit_cents


def test_month_totals_can_be_rebuilt_from_the_journal(books):
    member = _member(books.zone_id)
    dues.bill_month(date(2025, 1, 1))
    payments.record_payment(member, 5_000, PaymentMethod.CASH, date(2025, 1, 9), None)
    before = trial_balance.trial_balance()
    db.session.execute(sa.delete(AccountMonthTotal))
    assert journal.month_totals_differences() != []
    journal.rebuild_month_totals()
    assert journal.month_totals_differences() == []
    assert trial_balance.trial_balance().rows == before.rows


def test_creating_the_chart_is_audited_once_per_account(books):
    from association.audit.models import AuditEvent

    accounts.account("cash")
    accounts.ensure_chart()  # a second call inserts nothing
    db.session.commit()  # a transaction's events are chained when it commits
    created = db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.object_type == "account", AuditEvent.action == "create")).all()
    assert sorted(created) == sorted(key for _, key, *_ in accounts.DEFAULT_CHART)
