"""Suspense money in the books: Unidentified receipts, assignment, refunds sent, undo, and
statement imports that confirm callbacks Daraja could not confirm."""

import random
import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.balances import member_balance
from association.ledger.journal import month_totals_differences
from association.ledger.models import (
    Account,
    AccountType,
    EntrySource,
    JournalEntry,
    Payment,
    PaymentMethod,
    Receipt,
)
from association.ledger.payments import record_payment
from association.ledger.periods import close_month
from association.ledger.reports import Period, cash_book
from association.ledger.trial_balance import trial_balance
from association.members.models import Member
from association.mpesa import import_parsing, imports, processing, suspense
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus
from association.mpesa.transactions import put_in_suspense
from tests.conftest import count

# 2 November 2026, 10:30 in Nairobi.
ARRIVED = datetime(2026, 11, 2, 7, 30)
OCTOBER = datetime(2026, 10, 15, 7, 30)
SMS = ("TK41CCC001 Confirmed. Ksh50.00 received from JOHN DOE 0712345678 on 2/11/26 at "
       "10:30 AM. New Account balance is Ksh12,345.00")


@pytest.fixture
def books(app, people):
    """People as in the demo, an app context, and the acting user set for services."""
    with app.app_context(), acting_as("test"):
        yield people
        db.session.rollback()


def new_tx(code="TK41CCC001", amount=5_000, when=ARRIVED, member_id=None,
           status=TransactionStatus.UNCONFIRMED, **kw) -> MpesaTransaction:
    tx = MpesaTransaction(receipt_code=code, amount_cents=amount, transacted_at=when,
                          source=kw.pop("source", TransactionSource.C2B), status=status,
                          account_reference=kw.pop("account_reference", "HSE 12"),
                          payer_name="JOHN DOE", member_id=member_id, **kw)
    db.session.add(tx)
    db.session.flush()
    return tx


def in_suspense(code="TK41CCC001", amount=5_000, when=ARRIVED) -> int:
    """A verified callback that matches no member, settled as the callbacks settle it."""
    tx = new_tx(code, amount, when)
    assert processing.settle(tx) == "suspense"
    db.session.commit()
    return tx.id


def balances() -> dict[str, int]:
    """Debit-minus-credit of every account with a key, from the trial balance."""
    rows = trial_balance().rows
    return {row.account.key: row.debit_cents - row.credit_cents for row in rows}


def assert_books_balance():
    tb = trial_balance()
    assert tb.total_debit_cents == tb.total_credit_cents
    assert month_totals_differences() == []


def tx_of(tx_id) -> MpesaTransaction:
    db.session.expire_all()
    return db.session.get(MpesaTransaction, tx_id)


def entry_lines(entry_id) -> set[tuple[str, str, int]]:
    entry = db.session.get(JournalEntry, entry_id)
    return {(db.session.get(Account, p.account_id).key, p.side.value, p.amount_cents)
            for p in entry.postings}


# --- the chart and the entry into suspense ----------------------------------------------


def test_the_chart_has_unidentified_receipts_as_a_liability(books):
    put_in_suspense(new_tx(), None)
    found = db.session.scalar(sa.select(Account).where(Account.key == "unidentified_receipts"))
    assert (found.type, found.name, found.name_sw) == (
        AccountType.LIABILITY, "Unidentified receipts", "Malipo yasiyotambuliwa")


def test_suspense_money_is_in_the_mpesa_account_and_owed_as_unidentified(books):
    tx = tx_of(in_suspense())
    assert tx.status == TransactionStatus.SUSPENSE and tx.suspense_entry_id
    entry = db.session.get(JournalEntry, tx.suspense_entry_id)
    assert (entry.entry_date, entry.source, entry.reference) == (
        date(2026, 11, 2), EntrySource.MPESA, "TK41CCC001")
    assert entry_lines(entry.id) == {("mpesa", "debit", 5_000),
                                     ("unidentified_receipts", "credit", 5_000)}
    assert balances() == {"mpesa": 5_000, "unidentified_receipts": -5_000}
    assert_books_balance()
    rows = list(cash_book("mpesa", Period(date(2026, 11, 1), date(2026, 11, 30)))
                .tables[0].rows)
    assert rows[-1][-1] == 5_000 and any(row[1] == "TK41CCC001" for row in rows)


def test_confirming_by_hand_without_a_member_puts_it_in_the_books(books):
    tx = new_tx()
    db.session.commit()
    processing.confirm_by_hand(tx.id, None)
    db.session.commit()
    assert tx_of(tx.id).status == TransactionStatus.SUSPENSE
    assert balances() == {"mpesa": 5_000, "unidentified_receipts": -5_000}


def test_money_from_a_closed_month_enters_the_books_today(books):
    close_month(date(2026, 10, 1), None)
    tx = tx_of(in_suspense(when=OCTOBER))
    entry = db.session.get(JournalEntry, tx.suspense_entry_id)
    assert entry.entry_date == today_in_nairobi()
    assert_books_balance()


def test_a_code_already_typed_by_hand_is_never_counted_twice(books):
    member = db.session.get(Member, books.own_member_id)
    record_payment(member, 5_000, PaymentMethod.MPESA, date(2026, 11, 2), None,
                   reference="TK41CCC001")
    tx = new_tx()
    put_in_suspense(tx, None)
    assert (tx.status, tx.member_id, tx.suspense_entry_id) == (
        TransactionStatus.CREDITED, member.id, None)
    assert count(Payment) == 1 and balances()["mpesa"] == 5_000
    assert "unidentified_receipts" not in balances()


def test_put_in_suspense_refuses_money_already_dealt_with(books):
    tx = new_tx(status=TransactionStatus.REJECTED)
    with pytest.raises(suspense.TransactionError):
        put_in_suspense(tx, None)
    assert count(JournalEntry) == 0


# --- assigning -----------------------------------------------------------------------


def test_assigning_moves_the_money_to_the_member(books):
    tx_id = in_suspense()
    member = db.session.get(Member, books.own_member_id)
    tx = suspense.assign(tx_id, member, None, "House 12 is Baraka's")
    db.session.commit()
    tx = tx_of(tx_id)
    assert tx.status == TransactionStatus.CREDITED and tx.assigned_from_suspense_at
    assert entry_lines(tx.cleared_entry_id) == {("unidentified_receipts", "debit", 5_000),
                                                ("mpesa", "credit", 5_000)}
    payment = db.session.get(Payment, tx.payment_id)
    assert (payment.mpesa_code, payment.paid_on) == ("TK41CCC001", date(2026, 11, 2))
    assert payment.receipt is not None
    got = balances()
    assert got["mpesa"] == 5_000 and got.get("unidentified_receipts", 0) == 0
    # No dues billed: the money is the member's credit, and the statement shows it.
    assert got["member_credit"] == -5_000 and member_balance(member.id) == -5_000
    assert_books_balance()
    rows = list(cash_book("mpesa", Period(date(2026, 11, 1), date(2026, 11, 30)))
                .tables[0].rows)
    assert rows[-1][-1] == 5_000
    assert sum(1 for row in rows if row[1] == payment.receipt.number) == 1


# --- refunds -------------------------------------------------------------------------


def test_a_refund_stays_owed_until_it_is_sent(books):
    tx_id = in_suspense()
    suspense.mark_for_refund(tx_id, "Paid the wrong paybill", None)
    db.session.commit()
    assert balances() == {"mpesa": 5_000, "unidentified_receipts": -5_000}
    tx = suspense.record_refund_sent(tx_id, " tk41 rev001 ", date(2026, 11, 3), None)
    db.session.commit()
    tx = tx_of(tx_id)
    assert (tx.status, tx.refund_code, tx.refunded_on) == (
        TransactionStatus.REFUND, "TK41REV001", date(2026, 11, 3))
    entry = db.session.get(JournalEntry, tx.cleared_entry_id)
    assert entry.entry_date == date(2026, 11, 3)
    assert entry_lines(entry.id) == {("unidentified_receipts", "debit", 5_000),
                                     ("mpesa", "credit", 5_000)}
    assert balances().get("mpesa", 0) == 0 and balances().get("unidentified_receipts", 0) == 0
    assert_books_balance()
    assert "mpesa.suspense.refund_sent" in db.session.scalars(sa.select(AuditEvent.action)).all()
    with pytest.raises(suspense.SuspenseError, match="already recorded as sent"):
        suspense.record_refund_sent(tx_id, "TK41REV002", date(2026, 11, 3), None)


@pytest.mark.parametrize("code, day, message", [
    ("", date(2026, 11, 3), "Enter the M-Pesa code of the refund"),
    ("AB-12", date(2026, 11, 3), "Enter the M-Pesa code of the refund"),
    ("TK41CCC001", date(2026, 11, 3), "code of the payment itself"),
    ("TK41REV001", None, "Enter the date"),
    ("TK41REV001", date(2026, 11, 1), "before the payment"),
    ("TK41REV001", date(2099, 1, 1), "in the future"),
])
def test_bad_refunds_are_refused_and_change_nothing(books, code, day, message):
    tx_id = in_suspense()
    suspense.mark_for_refund(tx_id, "Paid the wrong paybill", None)
    db.session.commit()
    entries = count(JournalEntry)
    with pytest.raises(suspense.SuspenseError, match=message):
        suspense.record_refund_sent(tx_id, code, day, None)
    db.session.rollback()
    assert count(JournalEntry) == entries and tx_of(tx_id).refunded_on is None


def test_a_refund_needs_the_payment_marked_and_an_open_month(books):
    tx_id = in_suspense(when=OCTOBER)
    with pytest.raises(suspense.SuspenseError, match="not marked for refund"):
        suspense.record_refund_sent(tx_id, "TK41REV001", date(2026, 10, 20), None)
    suspense.mark_for_refund(tx_id, "Paid the wrong paybill", None)
    close_month(date(2026, 10, 1), None)
    db.session.commit()
    with pytest.raises(suspense.DomainError, match="Oct 2026 is closed"):
        suspense.record_refund_sent(tx_id, "TK41REV001", date(2026, 10, 20), None)
    db.session.rollback()
    suspense.record_refund_sent(tx_id, "TK41REV001", date(2026, 11, 1), None)
    db.session.commit()
    assert balances().get("unidentified_receipts", 0) == 0


# --- undoing a wrong assignment --------------------------------------------------------


def test_undo_voids_the_receipt_and_the_money_goes_back_to_suspense(books):
    tx_id = in_suspense()
    wrong = db.session.get(Member, books.own_member_id)
    right = db.session.get(Member, books.other_member_id)
    suspense.assign(tx_id, wrong, None)
    db.session.commit()
    first = db.session.get(Payment, tx_of(tx_id).payment_id)
    number = first.receipt.number
    suspense.undo_assignment(tx_id, "House 12 is Chebet's, not Baraka's", None)
    db.session.commit()
    tx = tx_of(tx_id)
    assert (tx.status, tx.member_id, tx.payment_id, tx.cleared_entry_id) == (
        TransactionStatus.SUSPENSE, None, None, None)
    receipt = db.session.scalar(sa.select(Receipt).where(Receipt.number == number))
    assert receipt.is_void and "Chebet" in receipt.void_reason
    assert balances() == {"mpesa": 5_000, "unidentified_receipts": -5_000}
    assert member_balance(wrong.id) == 0
    assert_books_balance()
    events = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "mpesa.suspense.undo" in events
    # Assigned again, to the right member: a new receipt; the void one keeps its number.
    suspense.assign(tx_id, right, None)
    db.session.commit()
    tx = tx_of(tx_id)
    second = db.session.get(Payment, tx.payment_id)
    assert second.id != first.id and second.mpesa_code == "TK41CCC001"
    assert second.receipt.number != number
    assert db.session.get(Payment, first.id).reference == "TK41CCC001"
    assert member_balance(right.id) == -5_000 and member_balance(wrong.id) == 0
    got = balances()
    assert got["mpesa"] == 5_000 and got.get("unidentified_receipts", 0) == 0
    assert_books_balance()


def test_undo_is_refused_when_it_cannot_apply(books):
    tx_id = in_suspense(when=OCTOBER)
    member = db.session.get(Member, books.own_member_id)
    with pytest.raises(suspense.SuspenseError, match="already undone"):
        suspense.undo_assignment(tx_id, "Wrong member", None)
    suspense.assign(tx_id, member, None)
    db.session.commit()
    with pytest.raises(suspense.SuspenseError, match="reason"):
        suspense.undo_assignment(tx_id, " ", None)
    close_month(date(2026, 10, 1), None)
    db.session.commit()
    entries = count(JournalEntry)
    with pytest.raises(suspense.SuspenseError, match="Oct 2026, which is closed"):
        suspense.undo_assignment(tx_id, "Wrong member", None)
    db.session.rollback()
    assert count(JournalEntry) == entries
    assert tx_of(tx_id).status == TransactionStatus.CREDITED
    # Credited straight from a callback (not from the queue): undo does not apply.
    other = new_tx("TK41CCC009", member_id=member.id)
    processing.settle(other)
    db.session.commit()
    with pytest.raises(suspense.SuspenseError, match="not assigned from the suspense queue"):
        suspense.undo_assignment(other.id, "Wrong member", None)
    with pytest.raises(suspense.SuspenseError, match="does not exist"):
        suspense.undo_assignment(999_999, "Wrong member", None)


def test_undo_of_suspense_from_before_the_books_recorded_it(books):
    # Queued before this change: in suspense, but no entry posted for it.
    tx = new_tx(status=TransactionStatus.SUSPENSE)
    db.session.commit()
    member = db.session.get(Member, books.own_member_id)
    suspense.assign(tx.id, member, None)
    db.session.commit()
    assert tx_of(tx.id).cleared_entry_id is None and balances()["mpesa"] == 5_000
    suspense.undo_assignment(tx.id, "Wrong member", None)
    db.session.commit()
    tx = tx_of(tx.id)
    assert tx.suspense_entry_id and tx.status == TransactionStatus.SUSPENSE
    assert balances() == {"mpesa": 5_000, "unidentified_receipts": -5_000}
    assert_books_balance()


# --- the pages ---------------------------------------------------------------------------


def _page_tx(app, **kw) -> int:
    with app.app_context(), acting_as("test"):
        return in_suspense(**kw)


def test_refund_and_undo_on_the_page(app, web, people):
    refund_id = _page_tx(app)
    assign_id = _page_tx(app, code="TK41CCC002")
    web.login("treasurer")
    web.post(f"/mpesa/suspense/{refund_id}/refund", {"reason": "Paid the wrong paybill"})
    html = web.get("/mpesa/suspense?queue=refund").get_data(as_text=True)
    assert "Record the refund sent" in html
    response = web.post(f"/mpesa/suspense/{refund_id}/refund-sent",
                        {"refund_code": "nope", "refunded_on": "2026-11-03"},
                        follow_redirects=True)
    assert "Enter the M-Pesa code of the refund" in response.get_data(as_text=True)
    response = web.post(f"/mpesa/suspense/{refund_id}/refund-sent",
                        {"refund_code": "TK41REV001", "refunded_on": "11/30/2026"},
                        follow_redirects=True)
    assert response.status_code == 200  # month first: refused, a Kenyan reader's 11 Nov?
    with app.app_context():
        assert tx_of(refund_id).refunded_on is None
    response = web.post(f"/mpesa/suspense/{refund_id}/refund-sent",
                        {"refund_code": "TK41REV001", "refunded_on": "2026-11-03"},
                        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "is recorded as sent (TK41REV001)" in html and "TK41REV001" in html
    web.post(f"/mpesa/suspense/{assign_id}/assign", {"member": people.own_member_no})
    html = web.get("/mpesa/suspense?queue=credited").get_data(as_text=True)
    assert "Undo this assignment" in html
    response = web.post(f"/mpesa/suspense/{assign_id}/undo", {"reason": ""},
                        follow_redirects=True)
    with app.app_context():
        assert tx_of(assign_id).status == TransactionStatus.CREDITED
    response = web.post(f"/mpesa/suspense/{assign_id}/undo", {"reason": "Wrong house"},
                        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "is undone" in html and "waits in suspense" in html
    response = web.post(f"/mpesa/suspense/{assign_id}/undo", {"reason": "Wrong house"},
                        follow_redirects=True)
    assert "already undone" in response.get_data(as_text=True)
    assert web.post("/mpesa/suspense/999999/undo", {"reason": "Wrong house"}).status_code == 404
    with app.app_context():
        assert tx_of(assign_id).status == TransactionStatus.SUSPENSE
        assert tx_of(refund_id).refund_code == "TK41REV001"
        assert_books_balance()


def test_the_auditor_sees_the_queues_but_cannot_decide(app, web, people):
    tx_id = _page_tx(app)
    web.login("auditor")
    assert web.get("/mpesa/suspense?queue=refunded").status_code == 200
    assert web.post(f"/mpesa/suspense/{tx_id}/undo", {"reason": "Wrong"}).status_code == 403
    assert web.post(f"/mpesa/suspense/{tx_id}/refund-sent",
                    {"refund_code": "TK41REV001", "refunded_on": "2026-11-03"}).status_code \
        == 403


# --- statement imports confirm callbacks Daraja could not confirm -------------------------


def test_an_import_confirms_and_credits_an_unconfirmed_callback(books):
    tx = new_tx(member_id=books.other_member_id)
    db.session.commit()
    parsed = import_parsing.parse_sms(SMS)
    preview = imports.build_preview(parsed)
    assert [row.tx.receipt_code for row in preview.confirm_rows] == ["TK41CCC001"]
    assert preview.new_rows == [] and preview.known_count == 0
    assert preview.confirm_rows[0].member.id == books.other_member_id
    result = imports.confirm(parsed, preview.expect, {}, None)
    db.session.commit()
    assert (result.confirmed, result.credited, result.suspense, result.already_known) == (
        1, 0, 0, 0)
    tx = tx_of(tx.id)
    assert tx.status == TransactionStatus.CREDITED and tx.member_id == books.other_member_id
    assert count(Payment) == 1 and count(MpesaTransaction) == 1
    assert balances()["mpesa"] == 5_000
    # The same message again: it is in the books now, never counted twice.
    preview = imports.build_preview(parsed)
    assert preview.known_count == 1 and preview.confirm_rows == []
    with pytest.raises(imports.ImportStaleError, match="already in the books"):
        imports.confirm(parsed, preview.expect, {}, None)
    assert count(Payment) == 1


def test_an_unconfirmed_callback_without_a_member_is_matched_or_queued(books):
    own = db.session.get(Member, books.own_member_id)
    own.phone = "+254712345678"  # JOHN DOE's phone in the SMS
    tx = new_tx()
    other = new_tx("TK41CCC002", amount=20_000)
    db.session.commit()
    text = SMS + "\n" + SMS.replace("TK41CCC001", "TK41CCC002").replace(
        "Ksh50.00", "Ksh200.00").replace("0712345678", "0799999999")
    parsed = import_parsing.parse_sms(text)
    preview = imports.build_preview(parsed)
    result = imports.confirm(parsed, preview.expect, {}, None)
    db.session.commit()
    assert result.confirmed == 2
    assert tx_of(tx.id).member_id == own.id
    assert tx_of(tx.id).status == TransactionStatus.CREDITED
    assert tx_of(other.id).status == TransactionStatus.SUSPENSE
    got = balances()
    assert got["mpesa"] == 25_000 and got["unidentified_receipts"] == -20_000
    assert_books_balance()


def test_an_amount_that_disagrees_is_shown_and_left_alone(books):
    tx = new_tx(amount=10_000, member_id=books.own_member_id)
    db.session.commit()
    parsed = import_parsing.parse_sms(SMS)
    preview = imports.build_preview(parsed)
    assert preview.confirm_rows == [] and len(preview.disagree_rows) == 1
    assert preview.disagree_rows[0].waiting.amount_cents == 10_000
    with pytest.raises(imports.ImportStaleError):
        imports.confirm(parsed, preview.expect, {}, None)
    db.session.rollback()
    assert tx_of(tx.id).status == TransactionStatus.UNCONFIRMED and count(Payment) == 0


def test_a_callback_confirmed_meanwhile_makes_the_import_stale(books):
    tx = new_tx(member_id=books.own_member_id)
    db.session.commit()
    parsed = import_parsing.parse_sms(SMS)
    preview = imports.build_preview(parsed)
    processing.confirm_by_hand(tx.id, None)
    db.session.commit()
    with pytest.raises(imports.ImportStaleError):
        imports.confirm(parsed, preview.expect, {}, None)
    db.session.rollback()
    assert count(Payment) == 1


def test_the_preview_page_shows_confirmations_and_disagreements(app, web, people):
    with app.app_context(), acting_as("test"):
        new_tx(member_id=people.own_member_id)
        new_tx("TK41CCC002", amount=99_900)
        db.session.commit()
    web.login("treasurer")
    text = SMS + "\n" + SMS.replace("TK41CCC001", "TK41CCC002")
    response = web.post("/mpesa/imports/sms", {"text": text})
    token = re.search(r"/mpesa/imports/([A-Za-z0-9_-]{16,64})", response.headers["Location"])[1]
    html = web.get(f"/mpesa/imports/{token}").get_data(as_text=True)
    assert "this import confirms it" in html and "Amounts that disagree" in html
    assert "KES 999.00" in html and "Confirm 1 payment" in html
    expect = html.split('name="expect" type="hidden" value="')[1][:64]
    response = web.post(f"/mpesa/imports/{token}/confirm",
                        {"expect": expect, "submit": "1"}, follow_redirects=True)
    assert "is confirmed by this import" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(MpesaTransaction.status).where(
            MpesaTransaction.receipt_code == "TK41CCC002")) == TransactionStatus.UNCONFIRMED
        assert count(Payment) == 1


# --- demo data ---------------------------------------------------------------------------


def test_demo_suspense_money_is_in_the_books(books):
    from devtools.demo.mpesa import seed_mpesa

    member = db.session.get(Member, books.own_member_id)
    member.phone = "+254712345678"
    record_payment(member, 5_000, PaymentMethod.MPESA, today_in_nairobi() - timedelta(days=1),
                   None, reference="TK41DEMO01")
    seed_mpesa([member], today_in_nairobi(), random.Random(4))  # noqa: S311
    waiting = db.session.scalar(sa.select(MpesaTransaction).where(
        MpesaTransaction.status == TransactionStatus.SUSPENSE))
    assert waiting.suspense_entry_id is not None
    got = balances()
    assert got["mpesa"] == 10_000 and got["unidentified_receipts"] == -5_000
    assert_books_balance()


# --- the auditor's journals --------------------------------------------------------------


def test_journals_with_suspense_money_pass_bean_check_and_hledger(app, people, tmp_path):
    from association.ledger import exports
    from tests.ledger.test_exports import _write, bean_check, hledger_balance, hledger_check

    with app.app_context(), acting_as("test"):
        refunded = in_suspense("TK41CCC003", 20_000)
        suspense.mark_for_refund(refunded, "Paid the wrong paybill", None)
        suspense.record_refund_sent(refunded, "TK41REV003", date(2026, 11, 4), None)
        undone = in_suspense("TK41CCC002", 7_000)
        suspense.assign(undone, db.session.get(Member, people.own_member_id), None)
        suspense.undo_assignment(undone, "Wrong member", None)
        in_suspense()
        db.session.commit()
        bean = _write(tmp_path, "all.beancount", exports.beancount_journal(None, None))
        ledger = _write(tmp_path, "all.hledger", exports.hledger_journal(None, None))
    assert "open Liabilities:Unidentified-Receipts KES" in bean.read_text(encoding="utf-8")
    bean_check(bean)
    hledger_check(ledger)
    assert "-120.00 KES  Liabilities:Unidentified-Receipts" in hledger_balance(
        ledger, "Liabilities:Unidentified-Receipts")
    assert "120.00 KES  Assets:M-Pesa" in hledger_balance(ledger, "Assets:M-Pesa")
