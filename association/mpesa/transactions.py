"""The one way M-Pesa money becomes a ledger payment, shared by callbacks and imports.

Callbacks, pasted SMS and statement imports each store an ``MpesaTransaction``
(idempotent on the receipt code) and then call :func:`credit_transaction` once
the money is confirmed and its member known. Whatever the source, a receipt
code already in the books (a manual M-Pesa payment typed by the treasurer, or
an earlier import) is never counted again.
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.errors import DomainError
from association.extensions import db
from association.ledger.models import EntrySource, Payment, PaymentMethod
from association.ledger.services import (
    NAIROBI,
    is_closed,
    normalise_mpesa_code,
    record_payment,
    today_in_nairobi,
)
from association.members.models import Member
from association.mpesa.models import MpesaTransaction, TransactionStatus


class TransactionError(DomainError):
    """An M-Pesa transaction cannot take this step."""


def nairobi_date(moment: datetime) -> date:
    """The Nairobi calendar day of a naive-UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(NAIROBI).date()


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


def credit_transaction(
    tx: MpesaTransaction, member: Member, by_user_id: int | None
) -> MpesaTransaction:
    """Credit a confirmed transaction to ``member``: a ledger payment with its receipt.

    The payment is dated the day the money arrived; when that month is already
    closed it is dated today instead (the day it enters the books), so late
    news of old money never reopens a closed month. If a payment with the same
    receipt code is already in the books (typed by hand earlier), the
    transaction is linked to it and nothing is counted twice.

    Raises:
        TransactionError: the transaction was already credited, refunded or rejected.
    """
    if tx.status not in (TransactionStatus.UNCONFIRMED, TransactionStatus.SUSPENSE):
        raise TransactionError(_l("This M-Pesa payment has already been dealt with."))
    existing = db.session.scalar(sa.select(Payment).where(Payment.mpesa_code == tx.receipt_code))
    if existing is None:
        paid_on = nairobi_date(tx.transacted_at)
        if is_closed(paid_on) or paid_on > today_in_nairobi():
            paid_on = today_in_nairobi()
        existing = record_payment(member, tx.amount_cents, PaymentMethod.MPESA, paid_on,
                                  by_user_id, reference=tx.receipt_code,
                                  source=EntrySource.MPESA)
    tx.member_id = existing.member_id
    tx.payment_id = existing.id
    tx.status = TransactionStatus.CREDITED
    tx.decided_by_id = by_user_id
    db.session.flush()
    return tx
