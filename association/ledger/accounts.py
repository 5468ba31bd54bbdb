"""The chart of accounts: the default chart, the accounts each role (dues,
member credit, cash, M-Pesa) posts to, and finding an account by its role.
"""

import sqlalchemy as sa

from association.audit.services import log_event
from association.core.db import upsert
from association.core.time import utcnow
from association.database import reads_only
from association.extensions import db
from association.ledger.models import (
    Account,
    AccountType,
    PaymentMethod,
)
from association.members.models import Category

# --- Chart of accounts ----------------------------------------------------

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
