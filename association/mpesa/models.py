"""M-Pesa money as it arrives: one row per M-Pesa receipt code, whatever brought it in.

A transaction is known by its M-Pesa receipt code (``TC57ABC9XY``); the unique
index on it is what makes every source idempotent: a callback, a pasted SMS, a
statement import or the treasurer's manual entry can never count the same money
twice. A transaction becomes a ledger ``Payment`` (with its receipt) only when
it is confirmed and matched to a member; until then it waits, visible to the
treasurer, as ``unconfirmed`` or in ``suspense``.
"""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import cents, created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.core.time import utcnow
from association.extensions import db


class TransactionSource(LabelledEnum):
    """How the transaction reached us."""

    # STK push callback
    STK = "stk", _l("M-Pesa prompt (STK push)")
    # paybill/till confirmation callback
    C2B = "c2b", _l("Paybill / till")
    # pasted confirmation SMS
    SMS = "sms", _l("Pasted SMS")
    # uploaded M-Pesa statement
    STATEMENT = "statement", _l("M-Pesa statement")
    # the treasurer typed it as an M-Pesa payment
    MANUAL = "manual", _l("Typed by the treasurer")


class TransactionStatus(LabelledEnum):
    """Where the money stands."""

    # not yet verified with Daraja (amount, shortcode, query)
    UNCONFIRMED = "unconfirmed", _l("Waiting for confirmation")
    # genuine, but matches no member: waits for the treasurer
    SUSPENSE = "suspense", _l("In suspense (no member)")
    # a ledger payment with a receipt exists
    CREDITED = "credited", _l("Credited")
    # the treasurer marked it for refund, with a reason
    REFUND = "refund", _l("To be refunded")
    # failed verification (forged, wrong amount or shortcode)
    REJECTED = "rejected", _l("Rejected")


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
    #: The entry that put the money in the books while it matched no member
    #: (Dr M-Pesa / Cr Unidentified receipts).
    suspense_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))
    #: The entry that took it out of Unidentified receipts again (assigned to a member,
    #: or refunded); cleared when an assignment is undone (the entry is reversed).
    cleared_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))
    #: When the treasurer assigned it from the suspense queue (so it can be undone).
    assigned_from_suspense_at: Mapped[datetime | None]
    #: The refund the treasurer sent back by M-Pesa: its code and Nairobi date.
    refund_code: Mapped[str | None] = mapped_column(String(20))
    refunded_on: Mapped[date | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    member = relationship("Member")
    payment = relationship("Payment")


# --- STK push requests, the callback inbox, settings (Daraja client side) ----


class StkStatus(LabelledEnum):
    """Where an STK push prompt stands."""

    # recorded; the prompt is being sent to Daraja
    SENDING = "sending", _l("Sending")
    # Daraja accepted it: the phone shows the prompt
    PENDING = "pending", _l("Waiting for the payer")
    # the payment arrived and is credited (or waits for the treasurer)
    PAID = "paid", _l("Paid")
    # cancelled, timed out, insufficient funds, wrong PIN, ...
    FAILED = "failed", _l("Not paid")
    # Daraja refused the request or could not be reached
    ERROR = "error", _l("Could not be sent")


class StkRequest(db.Model):
    """One STK push prompt: recorded before it is sent, so every callback finds its member."""

    __tablename__ = "mpesa_stk_request"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[intpk]
    #: Daraja's id for the prompt; known once Daraja accepted it.
    checkout_request_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    merchant_request_id: Mapped[str | None] = mapped_column(String(60))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_cents: Mapped[cents]
    #: The phone that gets the prompt, E.164.
    phone: Mapped[str] = mapped_column(String(20), index=True)
    account_reference: Mapped[str] = mapped_column(String(20))
    status: Mapped[StkStatus] = mapped_column(
        str_enum(StkStatus, 10), default=StkStatus.SENDING, index=True
    )
    #: Daraja's ResultCode (or errorCode) and description, as sent.
    result_code: Mapped[str | None] = mapped_column(String(30))
    result_desc: Mapped[str | None] = mapped_column(String(300))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("mpesa_transaction.id"))
    #: Who sent it (None: the command line). The rate limits count the rows of the last
    #: hour by sender, member and phone (stk.py), so they hold across gunicorn's workers.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    #: The language the payer reads, for the failure message on the pending page.
    language: Mapped[str | None] = mapped_column(String(5))
    last_queried_at: Mapped[datetime | None]
    query_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    member = relationship("Member")
    transaction = relationship("MpesaTransaction")


class CallbackKind(LabelledEnum):
    """Which of our callback addresses received the body."""

    STK = "stk", _l("Prompt result")
    C2B_VALIDATION = "c2b_validation", _l("Paybill validation")
    C2B_CONFIRMATION = "c2b_confirmation", _l("Paybill confirmation")
    STATUS_RESULT = "status_result", _l("Transaction Status result")
    STATUS_TIMEOUT = "status_timeout", _l("Transaction Status timeout")


class CallbackInbox(db.Model):
    """A callback body exactly as it arrived, stored before it is acknowledged.

    Rows are only ever added; processing sets ``processed_at`` and ``outcome``
    (or ``error``), never the body. A row stored but not processed (a crash, a
    bug, Daraja unreachable) is processed again by ``flask mpesa reconcile``.
    """

    __tablename__ = "mpesa_callback_inbox"

    id: Mapped[intpk]
    kind: Mapped[CallbackKind] = mapped_column(str_enum(CallbackKind, 20), index=True)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: The receipt code or CheckoutRequestID the body names, once parsed.
    key: Mapped[str | None] = mapped_column(String(60), index=True)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    #: What processing did: credited, duplicate, suspense, failed, rejected, ignored, ...
    outcome: Mapped[str | None] = mapped_column(String(30))
    error: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(default=0)


class UnknownAccountAction(LabelledEnum):
    """What C2B validation answers for an account number that matches no member."""

    # accept the money; it waits in suspense for the treasurer
    SUSPENSE = "suspense", _l("Accept them into suspense for the treasurer")
    # refuse it (C2B00012): the payer gets their money back at once
    REJECT = "reject", _l("Reject them (the payer keeps the money)")


class MpesaSettings(db.Model):
    """The treasurer's M-Pesa choices (one row, id 1)."""

    __tablename__ = "mpesa_settings"

    id: Mapped[intpk]
    unknown_account: Mapped[UnknownAccountAction] = mapped_column(
        str_enum(UnknownAccountAction, 10), default=UnknownAccountAction.SUSPENSE
    )
    #: When the C2B URLs were last registered with Daraja, and the answer.
    c2b_registered_at: Mapped[datetime | None]
    c2b_register_result: Mapped[str | None] = mapped_column(String(300))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AllowedPhone(db.Model):
    """A phone an official allowed a member to send M-Pesa prompts to, besides the one on
    their record (a relative who pays for them, a second line). Never deleted: revoking
    one stamps it, so who allowed what, and until when, stays on record."""

    __tablename__ = "mpesa_allowed_phone"

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: E.164, e.g. +254712345678.
    phone: Mapped[str] = mapped_column(String(20))
    allowed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    allowed_at: Mapped[created_at]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    member = relationship("Member")
    allowed_by = relationship("User", foreign_keys=[allowed_by_id])
    revoked_by = relationship("User", foreign_keys=[revoked_by_id])
