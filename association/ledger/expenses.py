"""Expenses (recorded by one official, posted when another approves) and the chart of accounts.

An expense is a request to pay money out. While it is pending nothing is in the
books; approval by a second official posts it (Dr the expense account, Cr the
cash, M-Pesa or bank account it was paid from). A rejected expense stays on
record with its reason. The supporting document (photo or PDF) is checked by
its content, never by its name or the browser's word, and stored under a
random name.
"""

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy.exc import IntegrityError

from association.core.money import MAX_CENTS
from association.core.time import today_in_nairobi, utcnow
from association.extensions import db
from association.ledger.accounts import METHOD_ACCOUNT_KEY, account, ensure_chart
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
    Posting,
    Side,
)
from association.ledger.periods import check_open


class ExpenseError(LedgerError):
    """An expense cannot be recorded or decided as asked; nothing was written."""


class SelfApprovalError(ExpenseError):
    """The official who recorded an expense tried to approve it."""


class DocumentError(ExpenseError):
    """The supporting document is not a photo or PDF we accept."""


class AccountError(LedgerError):
    """A change to the chart of accounts that the rules refuse."""


# --- Supporting documents -------------------------------------------------

#: The largest supporting document accepted (the app's request limit may be lower).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024

#: Content type -> file extension, for every kind of document accepted.
DOCUMENT_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


@dataclass(frozen=True)
class Document:
    """An uploaded file as received: the name the phone gave it and its bytes."""

    filename: str
    content: bytes


def detect_document_type(content: bytes) -> str | None:
    """The content type of a JPEG, PNG, WebP or PDF file, read from its bytes; else None.

    Only the bytes count: an HTML or SVG page renamed "receipt.jpg" is not a photo.
    """
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n") and content[12:16] == b"IHDR":
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP" and content[12:15] == b"VP8":
        return "image/webp"
    if content.startswith(b"%PDF-") and b"%%EOF" in content[-2048:]:
        return "application/pdf"
    return None


def document_limit() -> int:
    """The size limit in bytes: 5 MB, or the app's request limit if that is lower."""
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return min(MAX_DOCUMENT_BYTES, app_limit) if app_limit else MAX_DOCUMENT_BYTES


def display_filename(filename: str | None) -> str:
    """The uploaded file's own name, made safe to show: no folders, no control characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name)
                   if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    return name[:200] or "document"


def _document_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "expenses"


def _check_document(document: Document) -> str:
    """The detected content type of an acceptable document.

    Raises:
        DocumentError: empty, too large, or not a JPEG, PNG, WebP or PDF file.
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


# --- The chart of accounts ------------------------------------------------

_CODE_RE = re.compile(r"^[A-Z0-9]{3,10}$")


def expense_accounts() -> list[Account]:
    """The accounts an expense may be recorded under (creating the default chart if needed)."""
    ensure_chart()
    return list(db.session.scalars(
        sa.select(Account).where(Account.type == AccountType.EXPENSE, Account.active.is_(True))
        .order_by(Account.code)
    ))


def chart() -> list[Account]:
    """Every account, by code (creating the default chart if needed)."""
    ensure_chart()
    return list(db.session.scalars(sa.select(Account).order_by(Account.code)))


def account_balances() -> dict[int, int]:
    """Each account's balance in cents on its normal side (a cash account's money is positive)."""
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    rows = db.session.execute(
        sa.select(Posting.account_id, Account.type, sa.func.sum(signed))
        .join(Account, Account.id == Posting.account_id)
        .group_by(Posting.account_id, Account.type)
    )
    return {account_id: int(total) if type_ in (AccountType.ASSET, AccountType.EXPENSE)
            else -int(total) for account_id, type_, total in rows}


def account_balance(acct: Account) -> int:
    """One account's balance in cents on its normal side."""
    return account_balances().get(acct.id, 0)


def has_postings(acct: Account) -> bool:
    return db.session.scalar(
        sa.select(Posting.id).where(Posting.account_id == acct.id).limit(1)
    ) is not None


def _used_by_expenses(acct: Account, status: ExpenseStatus | None = None) -> int:
    stmt = sa.select(sa.func.count(Expense.id)).where(Expense.account_id == acct.id)
    if status is not None:
        stmt = stmt.where(Expense.status == status)
    return db.session.scalar(stmt)


def _clean_code(code: str) -> str:
    code = "".join((code or "").split()).upper()
    if not _CODE_RE.match(code):
        raise AccountError(_l("An account code is 3 to 10 letters or digits, e.g. 5050."))
    return code


def _clean_names(name: str, name_sw: str | None, exclude_id: int | None) -> tuple[str, str | None]:
    name = " ".join((name or "").split())
    name_sw = " ".join((name_sw or "").split()) or None
    if not name:
        raise AccountError(_l("Give the account a name."))
    if len(name) > 100 or (name_sw and len(name_sw) > 100):
        raise AccountError(_l("An account name can have at most 100 characters."))
    clash = db.session.scalar(
        sa.select(Account).where(sa.func.lower(Account.name) == name.lower(),
                                 Account.id != (exclude_id or 0))
    )
    if clash is not None:
        raise AccountError(_l("Account %(code)s is already called %(name)s.",
                              code=clash.code, name=clash.name))
    return name, name_sw


def _check_code_free(code: str, exclude_id: int | None) -> None:
    clash = db.session.scalar(
        sa.select(Account).where(sa.func.upper(Account.code) == code,
                                 Account.id != (exclude_id or 0))
    )
    if clash is not None:
        raise AccountError(_l("The code %(code)s is already used by %(name)s.",
                              code=code, name=clash.name))


def _flush_account(code: str) -> None:
    """Flush; a code taken by a request a moment ago becomes the same clear message."""
    savepoint = db.session.begin_nested()
    try:
        db.session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        raise AccountError(_l("The code %(code)s is already used by another account.",
                              code=code)) from None


def create_account(code: str, name: str, name_sw: str | None, type_: AccountType) -> Account:
    """Add an account to the chart (the chair).

    Raises:
        AccountError: a bad or duplicate code, a missing or duplicate name.
    """
    ensure_chart()
    code = _clean_code(code)
    type_ = AccountType(type_)
    _check_code_free(code, None)
    name, name_sw = _clean_names(name, name_sw, None)
    created = Account(code=code, name=name, name_sw=name_sw, type=type_, key=None, active=True)
    db.session.add(created)
    _flush_account(code)
    return created


def account_locked(acct: Account) -> bool:
    """Whether the code and type are fixed: the account has postings or expenses."""
    return has_postings(acct) or _used_by_expenses(acct) > 0


def update_account(
    acct: Account,
    name: str,
    name_sw: str | None,
    active: bool,
    code: str | None = None,
    type_: AccountType | None = None,
) -> Account:
    """Rename an account, (de)activate it, or, while it is unused, change its code or type.

    Args:
        code, type_: None keeps the current value.

    Raises:
        AccountError: a bad or duplicate code or name; a change of code or type of an
            account already used; a change of type of a system account; deactivating a
            system account or one that pending expenses use.
    """
    name, name_sw = _clean_names(name, name_sw, acct.id)
    new_code = _clean_code(code) if code is not None else acct.code
    new_type = AccountType(type_) if type_ is not None else acct.type
    if new_code != acct.code or new_type != acct.type:
        if account_locked(acct):
            raise AccountError(_l("%(code)s has entries in the books, so its code and type "
                                  "cannot change. Add a new account instead.", code=acct.code))
        if new_type != acct.type and acct.key is not None:
            raise AccountError(_l("%(code)s is one of the accounts the system posts to: its "
                                  "type cannot change.", code=acct.code))
        if new_code != acct.code:
            _check_code_free(new_code, acct.id)
    if not active and acct.active:
        if acct.key is not None:
            raise AccountError(_l("%(code)s %(name)s is one of the accounts the system posts "
                                  "to: it cannot be deactivated.", code=acct.code,
                                  name=acct.name))
        pending = _used_by_expenses(acct, ExpenseStatus.PENDING)
        if pending:
            raise AccountError(lazy_ngettext(
                "%(num)d pending expense uses %(code)s: approve or reject it first.",
                "%(num)d pending expenses use %(code)s: approve or reject them first.",
                pending, code=acct.code))
    acct.name, acct.name_sw, acct.active = name, name_sw, bool(active)
    acct.code, acct.type = new_code, new_type
    _flush_account(new_code)
    return acct
