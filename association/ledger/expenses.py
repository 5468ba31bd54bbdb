"""Expenses: recorded by one official, posted when another approves.

An expense is a request to pay money out. While it is pending nothing is in the
books; approval by a second official posts it (Dr the expense account, Cr the
cash, M-Pesa or bank account it was paid from). A rejected expense stays on
record with its reason. The supporting document (photo or PDF) is checked by
its content, never by its name or the browser's word, and stored under a
random name.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.money import MAX_CENTS
from association.core.time import today_in_nairobi, utcnow
from association.core.uploads import (
    DOCUMENT_EXTENSIONS,
    Document,
    DocumentRefused,
    check_content,
    detect_document_type,
    display_filename,
    document_limit,
)
from association.extensions import db
from association.hosting.tenancy import uploads_dir
from association.ledger.accounts import METHOD_ACCOUNT_KEY, account, account_balance
from association.ledger.errors import LedgerError
from association.ledger.journal import Line, post_entry, reverse_entry
from association.ledger.models import (
    Account,
    AccountType,
    EntrySource,
    Expense,
    ExpenseStatus,
    JournalEntry,
    PaymentMethod,
    Side,
)
from association.ledger.periods import check_open


class ExpenseError(LedgerError):
    """An expense cannot be recorded or decided as asked; nothing was written."""


class SelfApprovalError(ExpenseError):
    """The official who recorded an expense tried to approve it."""


class DocumentError(ExpenseError):
    """The supporting document is not a photo or PDF we accept."""


# --- Supporting documents -------------------------------------------------


def _document_dir() -> Path:
    return uploads_dir() / "expenses"


def _check_document(document: Document) -> str:
    """The detected content type of an acceptable document.

    Raises:
        DocumentError: empty, too large, not a JPEG, PNG, WebP or PDF file, disguised
            (web page markup) or not opening as what it claims.
    """
    if not document.content:
        raise DocumentError(_l("The file %(name)s is empty.",
                               name=display_filename(document.filename)))
    limit = document_limit()
    if len(document.content) > limit:
        raise DocumentError(_l("The file is larger than %(mb)s MB. Take the photo again at a "
                               "lower size, or scan fewer pages.", mb=f"{limit / 1048576:g}"))
    content_type = detect_document_type(document.content)
    if content_type is None:
        raise DocumentError(_l("%(name)s is not a photo (JPEG, PNG, WebP) or a PDF. Only "
                               "those can be attached.",
                               name=display_filename(document.filename)))
    try:
        check_content(document, content_type)
    except DocumentRefused as refused:
        raise DocumentError(refused.message) from None
    return content_type


def _store_document(content: bytes, content_type: str) -> str:
    """Write the file under a random name; returns that name."""
    folder = _document_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + DOCUMENT_EXTENSIONS[content_type]
    with open(folder / name, "xb") as out:
        out.write(content)
    return name


def document_path(expense: Expense) -> Path | None:
    """Where an expense's document is stored, or None when it has none (or it is missing)."""
    if not expense.document_file or not re.fullmatch(r"[0-9a-f]{32}\.[a-z]{3,4}",
                                                     expense.document_file):
        return None
    path = _document_dir() / expense.document_file
    return path if path.is_file() else None


# --- Expenses -------------------------------------------------------------


def expense_reference(expense: Expense) -> str:
    """The expense's number as written in the journal and on screens: EXP-12."""
    return f"EXP-{expense.id}"


def _check_expense_account(expense_account: Account | None) -> Account:
    if expense_account is None:
        raise ExpenseError(_l("Choose the expense account."))
    if expense_account.type != AccountType.EXPENSE:
        raise ExpenseError(_l("%(code)s %(name)s is not an expense account.",
                              code=expense_account.code, name=expense_account.name))
    if not expense_account.active:
        raise ExpenseError(_l("The account %(code)s %(name)s is no longer in use.",
                              code=expense_account.code, name=expense_account.name))
    return expense_account


def record_expense(
    expense_account: Account | None,
    payee: str,
    amount_cents: int,
    method: PaymentMethod,
    paid_on: date,
    description: str,
    document: Document | None,
    recorded_by_id: int | None,
) -> Expense:
    """Record money paid out; it waits for a second official's approval and is not posted.

    Args:
        expense_account: an active account of type expense.
        document: the optional photo or PDF of the receipt or invoice.

    Raises:
        ExpenseError: a bad account, payee, amount, date or description.
        DocumentError: the document is empty, too large or not a photo or PDF.
        ClosedPeriodError: ``paid_on`` is in a closed month.
    """
    _check_expense_account(expense_account)
    payee = " ".join((payee or "").split())
    if not payee:
        raise ExpenseError(_l("Enter who was paid."))
    if len(payee) > 120:
        raise ExpenseError(_l("The payee's name is too long (at most 120 characters)."))
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) \
            or not 0 < amount_cents <= MAX_CENTS:
        raise ExpenseError(_l("The amount must be more than zero."))
    try:
        method = PaymentMethod(method)
    except ValueError:
        raise ExpenseError(_l("Choose how the money was paid.")) from None
    if paid_on > today_in_nairobi():
        raise ExpenseError(_l("An expense cannot be dated in the future."))
    description = (description or "").strip()
    if not description:
        raise ExpenseError(_l("Describe what the money was for."))
    if len(description) > 500:
        raise ExpenseError(_l("The description is too long (at most 500 characters)."))
    check_open(paid_on)
    content_type = _check_document(document) if document is not None else None

    expense = Expense(
        account_id=expense_account.id, payee=payee, amount_cents=amount_cents, method=method,
        paid_on=paid_on, description=description, recorded_by_id=recorded_by_id,
        status=ExpenseStatus.PENDING,
    )
    if document is not None:
        expense.document_type = content_type
        expense.document_name = display_filename(document.filename)
        expense.document_file = _store_document(document.content, content_type)
    db.session.add(expense)
    db.session.flush()
    return expense


def _lock_pending(expense: Expense) -> Expense:
    """Reload the expense, locked until the transaction ends, and check it is undecided."""
    locked = db.session.scalars(
        sa.select(Expense).where(Expense.id == expense.id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.status == ExpenseStatus.APPROVED:
        raise ExpenseError(_l("%(ref)s has already been approved.",
                              ref=expense_reference(locked)))
    if locked.status == ExpenseStatus.REJECTED:
        raise ExpenseError(_l("%(ref)s has already been rejected.",
                              ref=expense_reference(locked)))
    return locked


def approve_expense(expense: Expense, approver_id: int | None) -> Expense:
    """A second official approves an expense: it is posted to the books, dated when paid.

    Raises:
        SelfApprovalError: the approver is the official who recorded it.
        ExpenseError: already approved or rejected, or its account is no longer in use.
        ClosedPeriodError: the month it was paid in is closed.
    """
    expense = _lock_pending(expense)
    if expense.recorded_by_id is not None and expense.recorded_by_id == approver_id:
        raise SelfApprovalError(_l("You recorded %(ref)s, so you cannot approve it: another "
                                   "official must check and approve it.",
                                   ref=expense_reference(expense)))
    _check_expense_account(expense.account)
    paid_from = account(METHOD_ACCOUNT_KEY[expense.method])
    entry = post_entry(
        expense.paid_on,
        f"{expense_reference(expense)} {expense.payee}: {expense.description}",
        EntrySource.EXPENSE,
        [Line(expense.account_id, Side.DEBIT, expense.amount_cents),
         Line(paid_from.id, Side.CREDIT, expense.amount_cents)],
        approver_id,
        reference=expense_reference(expense),
    )
    expense.status = ExpenseStatus.APPROVED
    expense.decided_by_id = approver_id
    expense.decided_at = utcnow()
    expense.entry_id = entry.id
    db.session.flush()
    return expense


def reject_expense(expense: Expense, approver_id: int | None, reason: str) -> Expense:
    """Reject an expense with a reason; it stays on record and is never posted.

    The official who recorded it may reject it too (to withdraw a mistake).

    Raises:
        ExpenseError: no reason given, or already approved or rejected.
    """
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise ExpenseError(_l("Give the reason for rejecting the expense."))
    if len(reason) > 300:
        raise ExpenseError(_l("The reason is too long (at most 300 characters)."))
    expense = _lock_pending(expense)
    expense.status = ExpenseStatus.REJECTED
    expense.decided_by_id = approver_id
    expense.decided_at = utcnow()
    expense.rejection_reason = reason
    db.session.flush()
    return expense


def expense_reversal(expense: Expense) -> JournalEntry | None:
    """The entry that reversed an approved expense, if any."""
    if expense.entry_id is None:
        return None
    return db.session.scalar(
        sa.select(JournalEntry).where(JournalEntry.reverses_id == expense.entry_id)
    )


def reversed_expense_ids(expenses) -> set[int]:
    """Which of these (approved) expenses a reversing entry has cancelled."""
    by_entry = {e.entry_id: e.id for e in expenses if e.entry_id is not None}
    if not by_entry:
        return set()
    return {by_entry[entry_id] for entry_id in db.session.scalars(
        sa.select(JournalEntry.reverses_id).where(JournalEntry.reverses_id.in_(list(by_entry))))}


def reverse_expense(expense: Expense, reason: str, user_id: int | None,
                    on: date | None = None) -> JournalEntry:
    """Correct an approved expense with a reversing entry (dated today unless ``on``).

    The expense stays approved and on record; the reversal points at its entry.

    Raises:
        ExpenseError: not approved, or no reason given.
        AlreadyVoidedError: already reversed.
        ClosedPeriodError: the reversal's month is closed.
    """
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise ExpenseError(_l("Give the reason for reversing the expense."))
    if expense.status != ExpenseStatus.APPROVED or expense.entry_id is None:
        raise ExpenseError(_l("Only an approved expense can be reversed."))
    entry = db.session.get(JournalEntry, expense.entry_id)
    return reverse_entry(entry, f"Reversal of {expense_reference(expense)}: {reason}",
                         user_id, on=on)


def paid_from(expense: Expense) -> tuple[Account, int]:
    """The account the expense is paid from (cash, M-Pesa or bank) and its balance now."""
    source = account(METHOD_ACCOUNT_KEY[expense.method])
    return source, account_balance(source)


@dataclass(frozen=True)
class ExpenseFilters:
    status: ExpenseStatus | None = None
    month: date | None = None


def expense_query(filters: ExpenseFilters = ExpenseFilters()) -> sa.Select:
    """Expenses, pending first (oldest waiting first), then the rest, newest first."""
    pending_first = sa.case((Expense.status == ExpenseStatus.PENDING, 0), else_=1)
    stmt = sa.select(Expense).order_by(
        pending_first,
        sa.case((Expense.status == ExpenseStatus.PENDING, Expense.id)),
        Expense.paid_on.desc(),
        Expense.id.desc(),
    )
    if filters.status is not None:
        stmt = stmt.where(Expense.status == filters.status)
    if filters.month is not None:
        start = filters.month.replace(day=1)
        after = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        stmt = stmt.where(Expense.paid_on >= start, Expense.paid_on < after)
    return stmt


def expense_totals(filters: ExpenseFilters = ExpenseFilters()) -> dict[ExpenseStatus, tuple]:
    """Count and cents of the filtered expenses, per status."""
    inner = expense_query(filters).order_by(None).subquery()
    rows = db.session.execute(
        sa.select(inner.c.status, sa.func.count(), sa.func.sum(inner.c.amount_cents))
        .group_by(inner.c.status)
    )
    return {ExpenseStatus(status): (count, int(total or 0)) for status, count, total in rows}
