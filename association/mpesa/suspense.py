"""The suspense queue: genuine M-Pesa money that matches no member, and what became of it.

Money in suspense is in the books already, as a liability: Dr M-Pesa / Cr
Unidentified receipts (``put_in_suspense``). The treasurer settles each
transaction one of two ways: assigns it to a member (the money moves out of
Unidentified receipts and becomes the member's ledger payment with a receipt,
through ``credit_transaction``) or marks it for refund with a reason; the money
stays owed to the payer until the treasurer records the refund sent back by
M-Pesa (its code and date: Dr Unidentified receipts / Cr M-Pesa). A wrong
assignment can be undone: the receipt is voided through the ledger and the money
goes back to suspense, to be assigned again. Every decision records who made it
and is written to the audit trail.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.audit.services import log_event
from association.core import dates
from association.core.phones import InvalidPhoneError, looks_like_phone, normalise_phone
from association.core.time import nairobi_date, today_in_nairobi, utcnow
from association.errors import DomainError
from association.extensions import db
from association.ledger.journal import reverse_entry
from association.ledger.models import JournalEntry
from association.ledger.payments import normalise_mpesa_code, void_receipt
from association.ledger.periods import is_closed
from association.members.models import Member
from association.members.services import MemberNotFoundError, get_member_by_number
from association.mpesa.matching import Match, current_index
from association.mpesa.models import MpesaTransaction, TransactionStatus
from association.mpesa.transactions import (
    TransactionError,
    clear_suspense,
    credit_transaction,
    post_into_suspense,
)

#: Shortest and longest reason for a refund, and longest note on an assignment.
REASON_MIN, REASON_MAX = 3, 300


class SuspenseError(DomainError):
    """A suspense decision that cannot be made (already decided, no reason, no member)."""


#: Which list the queue page shows.
QUEUES = {
    "suspense": (TransactionStatus.SUSPENSE,),
    #: Marked for refund, the money not yet sent back (still owed to the payer).
    "refund": (TransactionStatus.REFUND,),
    #: Refunds sent back by M-Pesa.
    "refunded": (TransactionStatus.REFUND,),
    #: Credited by an official's decision (assigned here, or imported), newest first.
    "credited": (TransactionStatus.CREDITED,),
}


def _in_queue(queue: str):
    statuses = QUEUES.get(queue, QUEUES["suspense"])
    clause = MpesaTransaction.status.in_(statuses)
    if queue == "credited":
        clause = sa.and_(clause, MpesaTransaction.decided_by_id.is_not(None))
    elif queue == "refund":
        clause = sa.and_(clause, MpesaTransaction.refunded_on.is_(None))
    elif queue == "refunded":
        clause = sa.and_(clause, MpesaTransaction.refunded_on.is_not(None))
    return clause


def queue_query(queue: str = "suspense", q: str = "") -> sa.Select:
    """Transactions waiting in suspense (oldest first), or those marked for refund or
    credited by an official (newest first).

    ``q`` narrows by receipt code, account reference or payer name.
    """
    stmt = sa.select(MpesaTransaction).where(_in_queue(queue))
    q = " ".join((q or "").split())[:60]
    if q:
        stmt = stmt.where(sa.or_(
            MpesaTransaction.receipt_code == q.upper().replace(" ", ""),
            MpesaTransaction.account_reference.icontains(q, autoescape=True),
            MpesaTransaction.payer_name.icontains(q, autoescape=True),
        ))
    if queue in ("refund", "refunded", "credited"):
        return stmt.order_by(MpesaTransaction.updated_at.desc(), MpesaTransaction.id.desc())
    return stmt.order_by(MpesaTransaction.transacted_at, MpesaTransaction.id)


@dataclass
class QueueTotals:
    count: int
    amount_cents: int


def queue_totals(queue: str = "suspense") -> QueueTotals:
    count, total = db.session.execute(
        sa.select(sa.func.count(MpesaTransaction.id),
                  sa.func.coalesce(sa.func.sum(MpesaTransaction.amount_cents), 0))
        .where(_in_queue(queue))
    ).one()
    return QueueTotals(count, int(total))


def suggestions(transactions) -> dict[int, Match]:
    """For each waiting transaction, the member it would match now (or why not).

    A member registered after the money came, or a phone corrected since, often
    explains a payment that landed in suspense.
    """
    index = current_index()
    return {
        tx.id: index.match(tx.account_reference, tx.phone, tx.msisdn_hash)
        for tx in transactions
        if tx.status == TransactionStatus.SUSPENSE
    }


def suggested_members(hints: dict[int, Match]) -> dict[int, Member]:
    """The members named by :func:`suggestions`, by id."""
    ids = {m.member_id for m in hints.values() if m.member_id}
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(ids)))}


def decided_by_names(transactions) -> dict[int, str]:
    """Who decided each transaction, by user id."""
    from association.auth.models import User

    ids = {tx.decided_by_id for tx in transactions if tx.decided_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(User.id, User.full_name).where(User.id.in_(ids))).all())


def _reason(typed: str | None, missing) -> str:
    """The reason given, spaces tidied; ``missing`` is the message when there is none."""
    reason = " ".join((typed or "").split())
    if len(reason) < REASON_MIN:
        raise SuspenseError(missing)
    if len(reason) > REASON_MAX:
        raise SuspenseError(_l("The reason is too long (%(n)d characters at most).",
                               n=REASON_MAX))
    return reason


def _locked(tx_id: int) -> MpesaTransaction | None:
    """The transaction, re-read and locked so two officials cannot decide it at once."""
    return db.session.scalar(
        sa.select(MpesaTransaction).where(MpesaTransaction.id == tx_id)
        .with_for_update().execution_options(populate_existing=True)
    )


def _waiting(tx_id: int) -> MpesaTransaction:
    tx = _locked(tx_id)
    if tx is None:
        raise SuspenseError(_l("That M-Pesa payment does not exist."))
    if tx.status != TransactionStatus.SUSPENSE:
        raise SuspenseError(_l(
            "The M-Pesa payment %(code)s is no longer in suspense: someone has already dealt "
            "with it.", code=tx.receipt_code))
    return tx


def find_member(typed: str) -> Member:
    """The member a treasurer typed: a member number in any usual form, or a phone.

    Raises:
        SuspenseError: empty, or no member has that number or phone.
    """
    text = " ".join((typed or "").split())[:60]
    if not text:
        raise SuspenseError(_l("Enter the member number (e.g. MLK-0042) or phone number."))
    try:
        return get_member_by_number(text)
    except MemberNotFoundError:
        pass
    if looks_like_phone(text):
        try:
            phone = normalise_phone(text)
        except InvalidPhoneError:
            phone = None
        member = db.session.scalar(sa.select(Member).where(Member.phone == phone)) if phone \
            else None
        if member is not None:
            return member
    raise SuspenseError(_l("No member has the number or phone %(typed)s.", typed=text))


def assign(tx_id: int, member: Member, by_user_id: int | None,
           note: str | None = None) -> MpesaTransaction:
    """Credit a suspense transaction to ``member``: a ledger payment and its receipt.

    Args:
        note: why this member (optional), kept with the transaction.

    Raises:
        SuspenseError: the transaction is gone or no longer in suspense, or the note
            is too long.
        LedgerError: the ledger refuses the payment (e.g. the code is already in the books).
    """
    note = " ".join((note or "").split()) or None
    if note and len(note) > REASON_MAX:
        raise SuspenseError(_l("The note is too long (%(n)d characters at most).", n=REASON_MAX))
    tx = _waiting(tx_id)
    try:
        credit_transaction(tx, member, by_user_id)
    except TransactionError as error:
        raise SuspenseError(error.message) from None
    if note:
        tx.note = note
    tx.assigned_from_suspense_at = utcnow()
    db.session.flush()
    log_event("mpesa.suspense.assign", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "member_no": member.member_no,
               "amount_cents": tx.amount_cents, "payment_id": tx.payment_id, "note": note})
    return tx


def mark_for_refund(tx_id: int, reason: str, by_user_id: int | None) -> MpesaTransaction:
    """Take a suspense transaction out of the queue to be sent back to the payer.

    Raises:
        SuspenseError: no reason, a reason too short or long, or the transaction is
            gone or no longer in suspense.
    """
    reason = _reason(reason, _l("Give the reason for the refund."))
    tx = _waiting(tx_id)
    tx.status = TransactionStatus.REFUND
    tx.note = reason
    tx.decided_by_id = by_user_id
    db.session.flush()
    log_event("mpesa.suspense.refund", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "amount_cents": tx.amount_cents,
               "reason": reason})
    return tx


def _refund_waiting(tx_id: int) -> MpesaTransaction:
    tx = _locked(tx_id)
    if tx is None:
        raise SuspenseError(_l("That M-Pesa payment does not exist."))
    if tx.status != TransactionStatus.REFUND:
        raise SuspenseError(_l("The M-Pesa payment %(code)s is not marked for refund.",
                               code=tx.receipt_code))
    if tx.refunded_on is not None:
        raise SuspenseError(_l(
            "The refund of %(code)s was already recorded as sent (%(refund)s).",
            code=tx.receipt_code, refund=tx.refund_code or ""))
    return tx


def record_refund_sent(tx_id: int, refund_code: str, refunded_on: date | None,
                       by_user_id: int | None) -> MpesaTransaction:
    """The money marked for refund was sent back by M-Pesa: it leaves the books.

    Posts Dr Unidentified receipts / Cr M-Pesa on the day it was sent.

    Args:
        refund_code: the M-Pesa code of the reversal or of the money sent back.
        refunded_on: the Nairobi day it was sent.

    Raises:
        SuspenseError: a missing or malformed code, a day before the payment or in
            the future, or the transaction is not waiting for its refund.
        ClosedPeriodError: that day's month is closed.
    """
    code = normalise_mpesa_code(refund_code)
    if not code or not code.isalnum() or not 8 <= len(code) <= 12:
        raise SuspenseError(_l("Enter the M-Pesa code of the refund (the reversal or the "
                               "money sent back), e.g. TC57ABC9XY."))
    if refunded_on is None:
        raise SuspenseError(_l("Enter the date the refund was sent."))
    if refunded_on > today_in_nairobi():
        raise SuspenseError(_l("The refund cannot be dated in the future."))
    tx = _refund_waiting(tx_id)
    if code == tx.receipt_code:
        raise SuspenseError(_l("%(code)s is the code of the payment itself. Enter the code "
                               "of the refund.", code=code))
    if refunded_on < nairobi_date(tx.transacted_at):
        raise SuspenseError(_l("The refund cannot be dated before the payment (%(date)s).",
                               date=dates.day(nairobi_date(tx.transacted_at))))
    if tx.suspense_entry_id is not None:
        entry = db.session.get(JournalEntry, tx.suspense_entry_id)
        if refunded_on < entry.entry_date:
            raise SuspenseError(_l(
                "The refund cannot be dated before the payment entered the books "
                "(%(date)s).", date=dates.day(entry.entry_date)))
    clear_suspense(tx, f"Refund of M-Pesa receipt {tx.receipt_code} sent ({code})",
                   refunded_on, by_user_id)
    tx.refund_code = code
    tx.refunded_on = refunded_on
    db.session.flush()
    log_event("mpesa.suspense.refund_sent", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "amount_cents": tx.amount_cents,
               "refund_code": code, "refunded_on": refunded_on.isoformat(),
               "entry_id": tx.cleared_entry_id})
    return tx


def undo_assignment(tx_id: int, reason: str, by_user_id: int | None) -> MpesaTransaction:
    """Undo a wrong assignment from the suspense queue: the money goes back to suspense.

    The payment's receipt is voided through the ledger (reversing entry dated today;
    the number stays in the register, marked VOID with the reason); the entry that
    moved the money out of Unidentified receipts is reversed too, so the money is a
    liability again; the transaction waits in suspense to be assigned to the right
    member. The voided payment keeps its M-Pesa code as its reference, so the code
    can be credited again.

    Raises:
        SuspenseError: no reason, the transaction is gone, was not assigned from the
            suspense queue, was already undone, or its payment is in a closed month.
        ClosedPeriodError: today's month is closed.
    """
    reason = _reason(reason, _l("Give the reason for undoing the assignment."))
    tx = _locked(tx_id)
    if tx is None:
        raise SuspenseError(_l("That M-Pesa payment does not exist."))
    if tx.status == TransactionStatus.SUSPENSE:
        raise SuspenseError(_l("The assignment of %(code)s was already undone: it is waiting "
                               "in suspense.", code=tx.receipt_code))
    if tx.status != TransactionStatus.CREDITED or tx.assigned_from_suspense_at is None \
            or tx.payment is None:
        raise SuspenseError(_l("%(code)s was not assigned from the suspense queue, so it "
                               "cannot be undone here. To correct it, void its receipt.",
                               code=tx.receipt_code))
    payment = tx.payment
    if is_closed(payment.paid_on):
        raise SuspenseError(_l(
            "The payment is in %(month)s, which is closed: the assignment cannot be undone. "
            "Ask the chair to reopen the month first.",
            month=dates.month(payment.paid_on)))
    member = payment.member
    receipt = payment.receipt
    if receipt is not None and not receipt.is_void:
        void_receipt(receipt, f"Assignment from suspense undone: {reason}"[:300], by_user_id)
    # The voided payment keeps the code as its reference; the code can be credited again.
    payment.reference = payment.mpesa_code
    payment.mpesa_code = None
    if tx.cleared_entry_id is not None:
        cleared = db.session.get(JournalEntry, tx.cleared_entry_id)
        reverse_entry(cleared, f"Assignment of M-Pesa receipt {tx.receipt_code} undone",
                      by_user_id)
        tx.cleared_entry_id = None
    else:  # assigned before suspense money was in the books: put it there now
        post_into_suspense(tx, today_in_nairobi(), by_user_id)
    tx.status = TransactionStatus.SUSPENSE
    tx.member_id = None
    tx.payment_id = None
    tx.assigned_from_suspense_at = None
    tx.decided_by_id = None
    tx.note = reason
    db.session.flush()
    log_event("mpesa.suspense.undo", "mpesa_transaction", tx.id,
              {"receipt_code": tx.receipt_code, "amount_cents": tx.amount_cents,
               "member_no": member.member_no, "payment_id": payment.id,
               "receipt": receipt.number if receipt else None, "reason": reason})
    return tx
