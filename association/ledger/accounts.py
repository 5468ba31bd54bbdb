"""The chart of accounts: the default chart, the accounts each role (dues,
member credit, cash, M-Pesa) posts to and finding an account by its role, and
the chair's changes to the chart (adding, renaming, retiring an account) with
each account's balance.
"""

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy.exc import IntegrityError

from association.audit.services import log_event
from association.core.db import upsert
from association.core.time import utcnow
from association.database import reads_only
from association.extensions import db
from association.ledger.errors import LedgerError
from association.ledger.models import (
    Account,
    AccountType,
    Expense,
    ExpenseStatus,
    PaymentMethod,
    Posting,
    Side,
)
from association.members.models import Category

# --- The default chart and the accounts the code posts to ----------------

#: (code, key, English name, Swahili name, type): a chart for such an association.
DEFAULT_CHART = (
    ("1000", "cash", "Cash on hand", "Pesa taslimu", AccountType.ASSET),
    ("1010", "mpesa", "M-Pesa", "M-Pesa", AccountType.ASSET),
    ("1020", "bank", "Bank", "Benki", AccountType.ASSET),
    ("1100", "dues_receivable", "Dues receivable (members)", "Michango inayodaiwa (wanachama)",
     AccountType.ASSET),
    ("2000", "member_credit", "Member credit (paid in advance)",
     "Salio la wanachama (malipo ya mapema)", AccountType.LIABILITY),
    # M-Pesa money that matches no member yet: owed to a member once identified, or
    # to the payer until refunded.
    ("2010", "unidentified_receipts", "Unidentified receipts", "Malipo yasiyotambuliwa",
     AccountType.LIABILITY),
    ("3000", "accumulated_fund", "Accumulated fund", "Hazina iliyolimbikizwa", AccountType.EQUITY),
    ("4000", "residents_dues", "Residents' dues", "Michango ya wakazi", AccountType.INCOME),
    ("4010", "landlords_levy", "Landlords' levy", "Ada ya wenye nyumba", AccountType.INCOME),
    ("4020", "business_contributions", "Business contributions", "Michango ya biashara",
     AccountType.INCOME),
    ("4030", "other_contributions", "Other members' contributions", "Michango mingine ya wanachama",
     AccountType.INCOME),
    ("4100", "donations", "Donations and grants", "Misaada na ruzuku", AccountType.INCOME),
    ("5000", "patrol_stipends", "Patrol stipends", "Posho za doria", AccountType.EXPENSE),
    ("5010", "patrol_equipment", "Patrol equipment", "Vifaa vya doria", AccountType.EXPENSE),
    ("5020", "meeting_costs", "Meeting costs", "Gharama za mikutano", AccountType.EXPENSE),
    ("5030", "transaction_charges", "Transaction charges", "Ada za miamala", AccountType.EXPENSE),
    ("5040", "police_support", "Support to the police and the chief",
     "Msaada kwa polisi na chifu", AccountType.EXPENSE),
)

#: The income account each category's dues are credited to.
DUES_INCOME_KEY = {
    Category.RESIDENT: "residents_dues",
    Category.LANDLORD: "landlords_levy",
    Category.BUSINESS: "business_contributions",
    Category.OTHER: "other_contributions",
}

#: The asset account money arrives in, by payment method.
METHOD_ACCOUNT_KEY = {
    PaymentMethod.CASH: "cash",
    PaymentMethod.MPESA: "mpesa",
    PaymentMethod.BANK: "bank",
}


def insert_once(model, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING, audited when it inserted: safe when two
    requests create the same row at once. Returns whether this call inserted it."""
    table = model.__table__
    stmt = upsert(db.session, table).values(**values).on_conflict_do_nothing()
    # RETURNING says whether a row went in (PostgreSQL reports rowcount -1 here).
    inserted = db.session.execute(stmt.returning(*table.primary_key.columns)).first()
    if inserted is None:
        return False
    log_event("create", model.__tablename__, values.get("id") or values.get("key"),
              {k: getattr(v, "value", v) for k, v in values.items() if k != "created_at"})
    return True


def ensure_chart() -> None:
    """Create any default account that is missing (idempotent, and safe under concurrency).

    The association's setup creates the chart (:func:`association.profile.services.save_profile`);
    a page view (a GET) never writes it.
    """
    if reads_only():
        return
    existing = set(db.session.scalars(sa.select(Account.key).where(Account.key.is_not(None))))
    for code, key, name, name_sw, type_ in DEFAULT_CHART:
        if key in existing:
            continue
        values = {"key": key, "name": name, "name_sw": name_sw, "type": type_.value,
                  "active": True, "created_at": utcnow()}
        if not insert_once(Account, {"code": code, **values}):
            # A chair's own account may hold the default code: use another one.
            if db.session.scalar(sa.select(Account.id).where(Account.key == key)) is None:
                insert_once(Account, {"code": f"{code}{key[:5]}".upper()[:10], **values})


def account(key: str) -> Account:
    """The account with this role, creating the default chart on first use."""
    found = db.session.scalar(sa.select(Account).where(Account.key == key))
    if found is None:
        ensure_chart()
        found = db.session.scalar(sa.select(Account).where(Account.key == key))
    return found


def account_id(key: str) -> int:
    """The id of the account with this role, remembered for the session (until a rollback)."""
    ids = db.session.info.setdefault("ledger_account_ids", {})
    if key not in ids:  # every role's id in one query: a page often needs several
        ids.update(db.session.execute(
            sa.select(Account.key, Account.id).where(Account.key.is_not(None))).all())
        if key not in ids:
            ids[key] = account(key).id
    return ids[key]


def forget_account_ids(session, previous_transaction=None) -> None:
    """Account ids remembered by a transaction that rolled back may not exist."""
    session.info.pop("ledger_account_ids", None)


# --- Changing the chart --------------------------------------------------


class AccountError(LedgerError):
    """A change to the chart of accounts that the rules refuse."""


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
