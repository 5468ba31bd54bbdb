"""The one way M-Pesa money becomes a ledger payment, shared by callbacks and imports.

Callbacks, pasted SMS and statement imports each store an ``MpesaTransaction``
(idempotent on the receipt code) and then call :func:`credit_transaction` once
the money is confirmed and its member known. Whatever the source, a receipt
code already in the books (a manual M-Pesa payment typed by the treasurer, or
an earlier import) is never counted again.

Confirmed money that matches no member enters the books too, through
:func:`put_in_suspense` only: it is in the M-Pesa account, owed to someone not
yet known (Dr M-Pesa / Cr Unidentified receipts). Assigning it to a member
(:func:`credit_transaction`) first moves it out again (Dr Unidentified receipts /
Cr M-Pesa) and then records the member's payment as any M-Pesa payment (Dr
M-Pesa / Cr the member's dues or credit): the M-Pesa cash book shows the money
once, net, and the member's statement and receipt are those of any payment.
"""

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.time import nairobi_date, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.ledger.accounts import account_id
from association.ledger.journal import Line, post_entry
from association.ledger.models import EntrySource, JournalEntry, Payment, PaymentMethod, Side
from association.ledger.payments import normalise_mpesa_code, record_payment
from association.ledger.periods import is_closed
from association.members.models import Member
from association.mpesa.models import MpesaTransaction, TransactionStatus


class TransactionError(DomainError):
    """An M-Pesa transaction cannot take this step."""


def known_codes(codes) -> set[str]:
    """Which of these M-Pesa receipt codes are already in the books, from any source."""
    wanted = {normalise_mpesa_code(code) for code in codes if code}
    wanted.discard(None)
    if not wanted:
        return set()
    found = set(db.session.scalars(
        sa.select(Payment.mpesa_code).where(Payment.mpesa_code.in_(wanted))))
    found |= set(db.session.scalars(
        sa.select(MpesaTransaction.receipt_code).where(MpesaTransaction.receipt_code.in_(wanted))))
    return found


def books_date(tx: MpesaTransaction) -> date:
    """The day M-Pesa money enters the books: the Nairobi day it arrived, or today when
    that month is closed (late news of old money never reopens a closed month; the
    same rule as for the member's payment) or the day is in the future."""
    return books_day(tx.transacted_at)


def books_day(transacted_at: datetime) -> date:
    """:func:`books_date` of money that arrived at ``transacted_at`` (naive UTC)."""
    day = nairobi_date(transacted_at)
    if is_closed(day) or day > today_in_nairobi():
        day = today_in_nairobi()
    return day


def _unidentified_lines(amount_cents: int, into_suspense: bool) -> list[Line]:
    mpesa, unidentified = account_id("mpesa"), account_id("unidentified_receipts")
    if into_suspense:
        return [Line(mpesa, Side.DEBIT, amount_cents),
                Line(unidentified, Side.CREDIT, amount_cents)]
    return [Line(unidentified, Side.DEBIT, amount_cents),
            Line(mpesa, Side.CREDIT, amount_cents)]


def put_in_suspense(tx: MpesaTransaction, by_user_id: int | None) -> MpesaTransaction:
    """Confirmed money that matches no member: the one way a transaction enters suspense.

    Sets the status and posts Dr M-Pesa / Cr Unidentified receipts, dated the day
    the money arrived (today if that month is closed), so the M-Pesa cash book and
    the trial balance show it. If a payment with the same receipt code is already in
    the books (typed by hand), the transaction is linked to it instead: the money is
    never counted twice.

    Raises:
        TransactionError: the transaction was already credited, refunded or rejected.
    """
    if tx.status not in (TransactionStatus.UNCONFIRMED, TransactionStatus.SUSPENSE) \
            or tx.cleared_entry_id is not None:
        raise TransactionError(_l("This M-Pesa payment has already been dealt with."))
    existing = db.session.scalar(sa.select(Payment).where(Payment.mpesa_code == tx.receipt_code))
    if existing is not None:
        return credit_transaction(tx, existing.member, by_user_id)
    if tx.suspense_entry_id is None:
        post_into_suspense(tx, books_date(tx), by_user_id)
    tx.status = TransactionStatus.SUSPENSE
    tx.member_id = None
    db.session.flush()
    return tx


def post_into_suspense(tx: MpesaTransaction, on: date, by_user_id: int | None) -> JournalEntry:
    """Post Dr M-Pesa / Cr Unidentified receipts for the transaction, on ``on``.

    Raises:
        ClosedPeriodError: ``on`` is in a closed month.
    """
    entry = post_entry(on, f"Unidentified M-Pesa receipt {tx.receipt_code}", EntrySource.MPESA,
                       _unidentified_lines(tx.amount_cents, True), by_user_id,
                       reference=tx.receipt_code)
    tx.suspense_entry_id = entry.id
    return entry


def clear_suspense(tx: MpesaTransaction, memo: str, on: date,
                   by_user_id: int | None) -> JournalEntry | None:
    """Move a transaction's money out of Unidentified receipts (Dr Unidentified / Cr M-Pesa).

    Nothing is posted for money that never entered the books through
    :func:`put_in_suspense` (suspense from before the books recorded it).
    """
    if tx.suspense_entry_id is None:
        return None
    entry = post_entry(on, memo, EntrySource.MPESA,
                       _unidentified_lines(tx.amount_cents, False), by_user_id,
                       reference=tx.receipt_code)
    tx.cleared_entry_id = entry.id
    return entry


def credit_transaction(
    tx: MpesaTransaction, member: Member, by_user_id: int | None
) -> MpesaTransaction:
    """Credit a confirmed transaction to ``member``: a ledger payment with its receipt.

    Money waiting in suspense is first moved out of Unidentified receipts
    (:func:`clear_suspense`, same date as the payment). The payment is dated the
    day the money arrived; when that month is already
    closed it is dated today instead (the day it enters the books), so late
    news of old money never reopens a closed month. If a payment with the same
    receipt code is already in the books (typed by hand earlier), the
    transaction is linked to it and nothing is counted twice.

    Raises:
        TransactionError: the transaction was already credited, refunded or rejected.
    """
    if tx.status not in (TransactionStatus.UNCONFIRMED, TransactionStatus.SUSPENSE) \
            or tx.cleared_entry_id is not None:
        raise TransactionError(_l("This M-Pesa payment has already been dealt with."))
    paid_on = books_date(tx)
    if tx.suspense_entry_id is not None:
        # Never before the money entered the books (a month reopened meanwhile).
        paid_on = max(paid_on, db.session.get(JournalEntry, tx.suspense_entry_id).entry_date)
    if tx.status == TransactionStatus.SUSPENSE:
        clear_suspense(tx, f"M-Pesa receipt {tx.receipt_code} identified: to {member.member_no}",
                       paid_on, by_user_id)
    existing = db.session.scalar(sa.select(Payment).where(Payment.mpesa_code == tx.receipt_code))
    if existing is None:
        existing = record_payment(member, tx.amount_cents, PaymentMethod.MPESA, paid_on,
                                  by_user_id, reference=tx.receipt_code,
                                  source=EntrySource.MPESA)
    tx.member_id = existing.member_id
    tx.payment_id = existing.id
    tx.status = TransactionStatus.CREDITED
    tx.decided_by_id = by_user_id
    db.session.flush()
    return tx
