"""M-Pesa money as it arrives: one row per M-Pesa receipt code, whatever brought it in.

A transaction is known by its M-Pesa receipt code (``TC57ABC9XY``); the unique
index on it is what makes every source idempotent: a callback, a pasted SMS, a
statement import or the treasurer's manual entry can never count the same money
twice. A transaction becomes a ledger ``Payment`` (with its receipt) only when
it is confirmed and matched to a member; until then it waits, visible to the
treasurer, as ``unconfirmed`` or in ``suspense``.
"""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.extensions import db
from association.types import cents, created_at, intpk, str_enum, utcnow


class TransactionSource(enum.StrEnum):
    """How the transaction reached us."""

    STK = "stk"  # STK push callback
    C2B = "c2b"  # paybill/till confirmation callback
    SMS = "sms"  # pasted confirmation SMS
    STATEMENT = "statement"  # uploaded M-Pesa statement
    MANUAL = "manual"  # the treasurer typed it as an M-Pesa payment


class TransactionStatus(enum.StrEnum):
    """Where the money stands."""

    UNCONFIRMED = "unconfirmed"  # not yet verified with Daraja (amount, shortcode, query)
    SUSPENSE = "suspense"  # genuine, but matches no member: waits for the treasurer
    CREDITED = "credited"  # a ledger payment with a receipt exists
    REFUND = "refund"  # the treasurer marked it for refund, with a reason
    REJECTED = "rejected"  # failed verification (forged, wrong amount or shortcode)


class MpesaTransaction(db.Model):
    """One M-Pesa receipt code and what became of it."""

    __tablename__ = "mpesa_transaction"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[intpk]
    #: The M-Pesa receipt code, upper case: unique across every source.
    receipt_code: Mapped[str] = mapped_column(String(20), unique=True)
    amount_cents: Mapped[cents]
    #: When Safaricom says it happened (Nairobi wall-clock time converted to naive UTC).
    transacted_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[TransactionSource] = mapped_column(str_enum(TransactionSource, 12))
    status: Mapped[TransactionStatus] = mapped_column(
        str_enum(TransactionStatus, 12), default=TransactionStatus.UNCONFIRMED, index=True
    )
    #: The paybill number or till that received it.
    shortcode: Mapped[str | None] = mapped_column(String(20))
    #: What the payer typed as the account number (BillRefNumber / AccountReference).
    account_reference: Mapped[str | None] = mapped_column(String(40))
    #: Payer phone in E.164 when Daraja or the SMS shows it; Daraja now often sends only a hash.
    phone: Mapped[str | None] = mapped_column(String(20))
    msisdn_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    payer_name: Mapped[str | None] = mapped_column(String(120))
    #: The STK request it answers, if any.
    checkout_request_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), unique=True)
    #: Why it was rejected or is to be refunded.
    note: Mapped[str | None] = mapped_column(String(300))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    member = relationship("Member")
    payment = relationship("Payment")
