"""The books: accounts, journal entries and postings, dues, payments, receipts, periods.

Amounts are integer cents, always positive; a posting's side (debit or credit)
is its own column. Posted journal entries and their postings are never updated
or deleted (see ``journal.install_guards``): a mistake is corrected by a
reversing entry that points at the original.
"""

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from association.core.db import cents, created_at, intpk, str_enum
from association.core.enums import LabelledEnum
from association.extensions import db
from association.members.models import Category


class AccountType(LabelledEnum):
    ASSET = "asset", _l("Asset")
    LIABILITY = "liability", _l("Liability")
    EQUITY = "equity", _l("Equity (accumulated fund)")
    INCOME = "income", _l("Income")
    EXPENSE = "expense", _l("Expense")


#: Which side makes each type of account grow.
NORMAL_DEBIT = {AccountType.ASSET, AccountType.EXPENSE}


class Side(enum.StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class EntrySource(enum.StrEnum):
    """Where a journal entry came from."""

    OPENING = "opening"
    DUES_RUN = "dues_run"
    CREDIT_APPLIED = "credit_applied"
    PAYMENT = "payment"
    MPESA = "mpesa"
    EXPENSE = "expense"
    IMPORT = "import"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


class PaymentMethod(LabelledEnum):
    CASH = "cash", _l("Cash")
    MPESA = "mpesa", _l("M-Pesa")
    BANK = "bank", _l("Bank")


class Account(db.Model):
    """An account of the chart; ``key`` lets the code find the ones it posts to."""

    __tablename__ = "account"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The Swahili name shown to Swahili readers (the English one when empty).
    name_sw: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[AccountType] = mapped_column(str_enum(AccountType, 10))
    #: A stable role such as "cash" or "dues_receivable"; None for accounts the chair adds.
    key: Mapped[str | None] = mapped_column(String(40), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]

    @property
    def normal_side(self) -> Side:
        return Side.DEBIT if self.type in NORMAL_DEBIT else Side.CREDIT


class JournalEntry(db.Model):
    """One balanced transaction: two or more postings whose debits equal their credits."""

    __tablename__ = "journal_entry"

    id: Mapped[intpk]
    entry_date: Mapped[date] = mapped_column(index=True)
    memo: Mapped[str] = mapped_column(String(300))
    source: Mapped[EntrySource] = mapped_column(str_enum(EntrySource, 20))
    #: Receipt number, M-Pesa code, expense number...: what the entry is about.
    reference: Mapped[str | None] = mapped_column(String(40), index=True)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    posted_at: Mapped[created_at]
    #: The entry this one reverses; an entry can be reversed only once.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"), unique=True)

    postings: Mapped[list["Posting"]] = relationship(
        back_populates="entry", order_by="Posting.id", cascade="save-update, merge"
    )
    posted_by = relationship("User", foreign_keys=[posted_by_id])
    reverses: Mapped["JournalEntry | None"] = relationship(
        remote_side="JournalEntry.id", foreign_keys=[reverses_id]
    )


class Posting(db.Model):
    """One line of an entry: an amount to the debit or credit of an account."""

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_posting_account_member", "account_id", "member_id"),
    )

    id: Mapped[intpk]
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    #: The member this line concerns (their receivable or credit sub-ledger).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    side: Mapped[Side] = mapped_column(str_enum(Side, 6))
    amount_cents: Mapped[cents]

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()

    @property
    def signed_cents(self) -> int:
        """Debits positive, credits negative: the entry's postings sum to zero."""
        return self.amount_cents if self.side == Side.DEBIT else -self.amount_cents


class AccountMonthTotal(db.Model):
    """The debits and credits of one account in one month.

    ``post_entry`` adds every entry's lines here in the same transaction, so a
    trial balance adds up a few hundred rows instead of millions of postings.
    It is derived from the journal (``month_totals_differences`` proves they
    agree) and is never edited otherwise; the audit trail records the postings.
    """

    __tablename__ = "account_month_total"
    __audited__ = False

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    debit_cents: Mapped[cents]
    credit_cents: Mapped[cents]


class DuesRate(db.Model):
    """A monthly rate for a category (and, for landlords, a range of premises).

    A new schedule is a new set of rates with a later ``effective_from``; older
    rates stay, so past charges keep the rate that was in force.
    """

    __tablename__ = "dues_rate"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("min_premises >= 0", name="min_premises"),
        CheckConstraint("max_premises IS NULL OR max_premises >= min_premises",
                        name="premises_range"),
    )

    id: Mapped[intpk]
    category: Mapped[Category] = mapped_column(str_enum(Category, 20))
    min_premises: Mapped[int] = mapped_column(default=0)
    max_premises: Mapped[int | None]
    amount_cents: Mapped[cents]
    #: First day of the first month the rate applies to.
    effective_from: Mapped[date] = mapped_column(index=True)
    #: The meeting resolution that decided it, e.g. "AGM 2026-02-14, resolution 3".
    resolution_ref: Mapped[str] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[created_at]


class WaiverStatus(LabelledEnum):
    PENDING = "pending", _l("Awaiting the chair")
    APPROVED = "approved", _l("Approved")
    REJECTED = "rejected", _l("Rejected")


class DuesWaiver(db.Model):
    """A reduction of one member's dues for some months; it counts once the chair approves."""

    __tablename__ = "dues_waiver"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),
        CheckConstraint("to_month IS NULL OR to_month >= from_month", name="months_order"),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    from_month: Mapped[date]
    to_month: Mapped[date | None]
    #: The monthly amount charged while the waiver holds (0 = waived entirely).
    amount_cents: Mapped[cents]
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[WaiverStatus] = mapped_column(
        str_enum(WaiverStatus, 10), default=WaiverStatus.PENDING
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[created_at]

    member = relationship("Member")


class DuesCharge(db.Model):
    """One member's dues for one month; unique, so billing a month twice charges once."""

    __tablename__ = "dues_charge"
    __table_args__ = (
        UniqueConstraint("member_id", "month", name="uq_dues_charge_member_month"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    #: First day of the month charged.
    month: Mapped[date] = mapped_column(index=True)
    amount_cents: Mapped[cents]
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("dues_rate.id"))
    waiver_id: Mapped[int | None] = mapped_column(ForeignKey("dues_waiver.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    #: Cents still unpaid; kept by the allocation service, 0 when settled.
    open_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[created_at]

    member = relationship("Member")


class Payment(db.Model):
    """Money received from a member, with its journal entry and receipt."""

    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_cents: Mapped[cents]
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, 10))
    #: The M-Pesa receipt code: never counted twice, whatever the source.
    mpesa_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    #: Bank slip or other reference.
    reference: Mapped[str | None] = mapped_column(String(60))
    paid_on: Mapped[date] = mapped_column(index=True)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    created_at: Mapped[created_at]

    member = relationship("Member")
    received_by = relationship("User", foreign_keys=[received_by_id])
    entry: Mapped[JournalEntry] = relationship(foreign_keys=[entry_id])
    allocations: Mapped[list["Allocation"]] = relationship(
        back_populates="payment", order_by="Allocation.id"
    )
    receipt: Mapped["Receipt"] = relationship(back_populates="payment", uselist=False)


class Allocation(db.Model):
    """Part of a payment (or of a member's credit) settling one month's charge."""

    __tablename__ = "allocation"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[intpk]
    charge_id: Mapped[int] = mapped_column(ForeignKey("dues_charge.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    #: The entry that moved the money (the payment's, or a credit-applied entry).
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"))
    amount_cents: Mapped[cents]
    #: Set when the payment was voided: the allocation no longer counts.
    reversed_by_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))

    charge: Mapped[DuesCharge] = relationship()
    payment: Mapped[Payment | None] = relationship(back_populates="allocations")


class ReceiptCounter(db.Model):
    """The last receipt number used in a year; locked while a number is taken."""

    __tablename__ = "receipt_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)


class Receipt(db.Model):
    """The numbered receipt for one payment: {SHORT}-{YYYY}-{NNNNNN}, without gaps."""

    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_receipt_year_seq"),)

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(30), unique=True)
    year: Mapped[int]
    seq: Mapped[int]
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), unique=True)
    #: A short random code printed in the QR link, so numbers cannot be guessed.
    check_code: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[created_at]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(300))
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    void_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))

    payment: Mapped[Payment] = relationship(back_populates="receipt")
    voided_by = relationship("User", foreign_keys=[voided_by_id])

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class ClosedMonth(db.Model):
    """A month closed by the treasurer; reopening (chair, with a reason) keeps the row."""

    __tablename__ = "closed_month"

    id: Mapped[intpk]
    #: First day of the month.
    month: Mapped[date] = mapped_column(index=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[created_at]
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reopened_at: Mapped[datetime | None]
    reopen_reason: Mapped[str | None] = mapped_column(Text)

    closed_by = relationship("User", foreign_keys=[closed_by_id])
    reopened_by = relationship("User", foreign_keys=[reopened_by_id])


class LedgerSettings(db.Model):
    """Ledger-wide choices (one row)."""

    __tablename__ = "ledger_settings"

    id: Mapped[intpk]
    #: Record contributions as they come, without charging monthly dues or arrears.
    voluntary_contributions: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpenseStatus(LabelledEnum):
    PENDING = "pending", _l("Waiting for approval")
    APPROVED = "approved", _l("Approved")
    REJECTED = "rejected", _l("Rejected")


class Expense(db.Model):
    """Money paid out; it is posted only when a second official approves it."""

    __tablename__ = "expense"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    payee: Mapped[str] = mapped_column(String(120))
    amount_cents: Mapped[cents]
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, 10))
    paid_on: Mapped[date] = mapped_column(index=True)
    description: Mapped[str] = mapped_column(String(500))
    #: The supporting document (photo or PDF) stored under UPLOAD_DIR/expenses/.
    document_file: Mapped[str | None] = mapped_column(String(80))
    document_name: Mapped[str | None] = mapped_column(String(200))
    document_type: Mapped[str | None] = mapped_column(String(40))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[created_at]
    status: Mapped[ExpenseStatus] = mapped_column(
        str_enum(ExpenseStatus, 10), default=ExpenseStatus.PENDING, index=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(300))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))

    account: Mapped[Account] = relationship()
    recorded_by = relationship("User", foreign_keys=[recorded_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
