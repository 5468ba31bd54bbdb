"""Every rule and every write of the books.

The journal is the truth: balances, statements and reports are sums of
postings. Entries are posted only through :func:`post_entry`, which refuses
unbalanced entries and dates in closed months; once flushed, an entry and its
postings can never be changed or deleted (:func:`install_guards`).
"""

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from association.audit.services import insert_audited, log_event
from association.core.db import is_postgres, upsert
from association.core.money import MAX_CENTS, format_kes
from association.core.time import month_end, month_start, today_in_nairobi, utcnow
from association.database import reads_only
from association.errors import DomainError
from association.extensions import db
from association.ledger.models import (
    Account,
    AccountMonthTotal,
    AccountType,
    Allocation,
    ClosedMonth,
    DuesCharge,
    DuesRate,
    DuesWaiver,
    EntrySource,
    JournalEntry,
    LedgerSettings,
    Payment,
    PaymentMethod,
    Posting,
    Receipt,
    ReceiptCounter,
    Side,
    WaiverStatus,
)
from association.members.models import Category, Member, MemberStatus
from association.members.services import statuses_on


class LedgerError(DomainError):
    """A rule of the books was broken; nothing was written."""


class UnbalancedEntryError(LedgerError):
    pass


class ClosedPeriodError(LedgerError):
    pass


class PostedEntryError(LedgerError):
    """Someone tried to change or delete a posted entry."""


class DuplicatePaymentError(LedgerError):
    pass


class AlreadyVoidedError(LedgerError):
    pass


class RateError(LedgerError):
    pass


class WaiverError(LedgerError):
    pass


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


def _insert_once(model, values: dict) -> bool:
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
        if not _insert_once(Account, {"code": code, **values}):
            # A chair's own account may hold the default code: use another one.
            if db.session.scalar(sa.select(Account.id).where(Account.key == key)) is None:
                _insert_once(Account, {"code": f"{code}{key[:5]}".upper()[:10], **values})


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


def _forget_account_ids(session, previous_transaction=None) -> None:
    session.info.pop("ledger_account_ids", None)
    _forget_closed_months(session)


# --- Posting --------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of an entry to be posted."""

    account_id: int
    side: Side
    amount_cents: int
    member_id: int | None = None


def is_closed(day: date) -> bool:
    """Whether the month of ``day`` is closed (asked once per month and transaction)."""
    month = month_start(day)
    known = db.session.info.setdefault("ledger_closed_months", {})
    if month not in known:
        known[month] = db.session.scalar(
            sa.select(sa.func.count(ClosedMonth.id)).where(
                ClosedMonth.month == month, ClosedMonth.reopened_at.is_(None)
            )
        ) > 0
    return known[month]


def _forget_closed_months(session, *args) -> None:
    """A month may be closed or reopened by anyone once this transaction is over."""
    session.info.pop("ledger_closed_months", None)


def _forget_closed_months_on_write(session, flush_context, instances) -> None:
    if any(isinstance(obj, ClosedMonth) for obj in (*session.new, *session.dirty)):
        _forget_closed_months(session)


def check_open(day: date) -> None:
    if is_closed(day):
        raise ClosedPeriodError(
            _l("%(month)s is closed: nothing can be posted in it. Ask the chair to reopen it, "
               "or date the entry in an open month.", month=day.strftime("%Y-%m"))
        )


def post_entry(
    entry_date: date,
    memo: str,
    source: EntrySource,
    lines: list[Line],
    posted_by_id: int | None = None,
    reference: str | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post a balanced entry.

    Raises:
        UnbalancedEntryError: fewer than two lines, a non-positive amount, or
            debits that do not equal credits.
        ClosedPeriodError: ``entry_date`` is in a closed month.
    """
    lines = _balanced(lines)
    check_open(entry_date)
    entry = JournalEntry(
        entry_date=entry_date, memo=memo[:300], source=source, reference=reference,
        posted_by_id=posted_by_id, reverses=reverses,
    )
    db.session.add(entry)
    db.session.flush()
    # One statement for all the lines: a dues run posts one line per member.
    insert_audited(Posting, [
        {"entry_id": entry.id, "account_id": line.account_id, "member_id": line.member_id,
         "side": line.side, "amount_cents": line.amount_cents}
        for line in lines
    ])
    _add_to_month_totals(entry_date, lines)
    return entry


def _balanced(lines: list[Line]) -> list[Line]:
    """An entry's lines, merged, once they are shown to balance.

    Raises:
        UnbalancedEntryError: fewer than two lines, a non-positive amount, or
            debits that do not equal credits.
    """
    lines = _merge(lines)
    if len(lines) < 2:
        raise UnbalancedEntryError(_l("An entry needs at least two lines."))
    for line in lines:
        if not isinstance(line.amount_cents, int) or not 0 < line.amount_cents <= MAX_CENTS * 1000:
            raise UnbalancedEntryError(_l("Every line needs an amount above zero."))
    debits = sum(line.amount_cents for line in lines if line.side == Side.DEBIT)
    credits = sum(line.amount_cents for line in lines if line.side == Side.CREDIT)
    if debits != credits:
        raise UnbalancedEntryError(
            _l("Debits (%(debits)s) and credits (%(credits)s) must be equal.",
               debits=format_kes(debits), credits=format_kes(credits))
        )
    return lines


def _add_to_month_totals(entry_date: date, lines: list[Line]) -> None:
    """Add an entry's lines to its month's per-account totals (an upsert per account)."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        sums[line.account_id][0 if line.side == Side.DEBIT else 1] += line.amount_cents
    insert = upsert(db.session, AccountMonthTotal.__table__)
    stmt = insert.on_conflict_do_update(
        index_elements=["account_id", "month"],
        set_={"debit_cents": AccountMonthTotal.__table__.c.debit_cents
              + insert.excluded.debit_cents,
              "credit_cents": AccountMonthTotal.__table__.c.credit_cents
              + insert.excluded.credit_cents},
    )
    month = month_start(entry_date)
    # In account order, so two transactions never wait for each other's rows crosswise.
    db.session.execute(stmt, [
        {"account_id": account, "month": month, "debit_cents": debit, "credit_cents": credit}
        for account, (debit, credit) in sorted(sums.items())
    ])


def _month_totals_from_journal() -> sa.Select:
    """What the month totals should hold, computed from every posting."""
    debit = sa.func.sum(sa.case((Posting.side == Side.DEBIT, Posting.amount_cents), else_=0))
    credit = sa.func.sum(sa.case((Posting.side == Side.CREDIT, Posting.amount_cents), else_=0))
    first = _first_of_month(JournalEntry.entry_date)
    return (sa.select(Posting.account_id, first.label("month"), debit.label("debit_cents"),
                      credit.label("credit_cents"))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .group_by(Posting.account_id, first))


def _first_of_month(column):
    if is_postgres(db.session):
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return sa.func.date(column, "start of month")


def rebuild_month_totals() -> int:
    """Recompute the month totals from the journal (after a bulk load); returns rows."""
    table = AccountMonthTotal.__table__
    db.session.execute(sa.delete(table))
    rows = [{**row._mapping, "month": _as_date(row.month)}
            for row in db.session.execute(_month_totals_from_journal())]
    if rows:
        db.session.execute(sa.insert(table), rows)
    return len(rows)


def month_totals_differences() -> list[tuple[int, date]]:
    """(account id, month) pairs whose stored totals disagree with the journal: none, ever."""
    want = {(r.account_id, _as_date(r.month)): (int(r.debit_cents), int(r.credit_cents))
            for r in db.session.execute(_month_totals_from_journal())}
    have = {(r.account_id, r.month): (r.debit_cents, r.credit_cents)
            for r in db.session.scalars(sa.select(AccountMonthTotal))}
    keys = set(want) | set(have)
    return sorted(k for k in keys if want.get(k, (0, 0)) != have.get(k, (0, 0)))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _merge(lines: list[Line]) -> list[Line]:
    """Add up lines to the same account, member and side (a dues run has thousands)."""
    totals: dict[tuple, int] = defaultdict(int)
    for line in lines:
        totals[(line.account_id, line.member_id, line.side)] += line.amount_cents
    return [Line(a, s, amount, m) for (a, m, s), amount in totals.items()]


def reverse_entry(
    entry: JournalEntry, memo: str, posted_by_id: int | None, on: date | None = None
) -> JournalEntry:
    """Post the mirror image of ``entry``, pointing at it.

    Raises:
        LedgerError: the entry was already reversed.
        ClosedPeriodError: ``on`` is in a closed month.
    """
    already = db.session.scalar(
        sa.select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)
    )
    if already is not None:
        raise AlreadyVoidedError(_l("This entry has already been reversed."))
    flipped = [
        Line(p.account_id, Side.CREDIT if p.side == Side.DEBIT else Side.DEBIT, p.amount_cents,
             p.member_id)
        for p in entry.postings
    ]
    return post_entry(on or today_in_nairobi(), memo, EntrySource.REVERSAL, flipped,
                      posted_by_id, reference=entry.reference, reverses=entry)


def _refuse_changes_to_posted(session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (JournalEntry, Posting)) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise PostedEntryError(
                _l("Posted entries cannot be changed or deleted; post a reversing entry.")
            )


def install_guards() -> None:
    """Refuse, at every flush, any change to or deletion of a posted entry (idempotent)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "before_flush", _refuse_changes_to_posted):
        event.listen(session_class, "before_flush", _refuse_changes_to_posted)
        event.listen(session_class, "after_soft_rollback", _forget_account_ids)
    if not event.contains(session_class, "after_commit", _forget_closed_months):
        event.listen(session_class, "after_commit", _forget_closed_months)
        event.listen(session_class, "before_flush", _forget_closed_months_on_write)


# --- Periods --------------------------------------------------------------


def close_month(month: date, closed_by_id: int | None) -> ClosedMonth:
    """Close a month: from now on nothing can be posted in it.

    Raises:
        LedgerError: already closed, or not yet over.
    """
    month = month_start(month)
    if is_closed(month):
        raise LedgerError(_l("%(month)s is already closed.", month=month.strftime("%Y-%m")))
    if month_end(month) >= today_in_nairobi():
        raise LedgerError(_l("A month can be closed only after it has ended."))
    closed = ClosedMonth(month=month, closed_by_id=closed_by_id)
    db.session.add(closed)
    db.session.flush()
    return closed


def reopen_month(month: date, reason: str, reopened_by_id: int | None) -> ClosedMonth:
    """Reopen a closed month (the chair, with a reason); the closing stays on record.

    Raises:
        LedgerError: the month is not closed, or no reason was given.
    """
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise LedgerError(_l("Give the reason for reopening the month."))
    closed = db.session.scalar(
        sa.select(ClosedMonth).where(ClosedMonth.month == month_start(month),
                                     ClosedMonth.reopened_at.is_(None))
    )
    if closed is None:
        raise LedgerError(_l("%(month)s is not closed.", month=month.strftime("%Y-%m")))
    closed.reopened_at = utcnow()
    closed.reopened_by_id = reopened_by_id
    closed.reopen_reason = reason[:1000]
    db.session.flush()
    return closed


# --- Settings -------------------------------------------------------------


def settings() -> LedgerSettings:
    """The one settings row (id 1), created on first use."""
    found = db.session.get(LedgerSettings, 1)
    if found is None and reads_only():  # a page view does not write: the defaults
        return LedgerSettings(id=1, voluntary_contributions=False)
    if found is None:
        _insert_once(LedgerSettings, {"id": 1, "voluntary_contributions": False})
        found = db.session.get(LedgerSettings, 1)
    return found


def set_voluntary(voluntary: bool) -> None:
    settings().voluntary_contributions = voluntary
    db.session.flush()


# --- Dues rates and waivers -----------------------------------------------


@dataclass(frozen=True)
class RateInput:
    category: Category
    amount_cents: int
    min_premises: int = 0
    max_premises: int | None = None


def add_rate_schedule(
    effective_from: date, rates: list[RateInput], resolution_ref: str, created_by_id: int | None
) -> list[DuesRate]:
    """Adopt a new schedule from a month on; earlier months keep their rates.

    A schedule cannot start in a closed month or in one whose dues have been
    run: that would change what those months should have charged.

    Raises:
        RateError: no resolution reference, a bad amount, overlapping landlord tiers,
            or a start month that is closed or already billed.
    """
    effective_from = month_start(effective_from)
    if is_closed(effective_from) or db.session.scalar(
        sa.select(DuesCharge.id).where(DuesCharge.month >= effective_from).limit(1)
    ):
        raise RateError(_l("The dues for %(month)s have already been charged or the month is "
                           "closed: a new schedule can start only in a month not yet billed.",
                           month=effective_from.strftime("%Y-%m")))
    resolution_ref = (resolution_ref or "").strip()
    if not resolution_ref:
        raise RateError(_l("Name the meeting resolution that decided these rates."))
    if not rates:
        raise RateError(_l("Give at least one rate."))
    by_category = defaultdict(list)
    for rate in rates:
        if not 0 < rate.amount_cents <= MAX_CENTS:
            raise RateError(_l("Every rate must be more than zero."))
        if rate.min_premises < 0 or (rate.max_premises is not None
                                     and rate.max_premises < rate.min_premises):
            raise RateError(_l("In a tier, the lowest number of premises is larger than the "
                               "highest."))
        by_category[rate.category].append(rate)
    for category, tiers in by_category.items():
        tiers.sort(key=lambda r: r.min_premises)
        for lower, upper in zip(tiers, tiers[1:], strict=False):
            if lower.max_premises is None or lower.max_premises >= upper.min_premises:
                raise RateError(_l("The tiers for %(category)s overlap.", category=category.value))
    existing = db.session.scalar(
        sa.select(sa.func.count(DuesRate.id)).where(DuesRate.effective_from == effective_from)
    )
    if existing:
        raise RateError(_l("A schedule already starts in %(month)s.",
                           month=effective_from.strftime("%Y-%m")))
    made = [
        DuesRate(category=r.category, min_premises=r.min_premises, max_premises=r.max_premises,
                 amount_cents=r.amount_cents, effective_from=effective_from,
                 resolution_ref=resolution_ref[:120], created_by_id=created_by_id)
        for r in rates
    ]
    db.session.add_all(made)
    db.session.flush()
    return made


def schedule_for(month: date) -> list[DuesRate]:
    """The rates in force in ``month`` (the latest schedule that has started)."""
    start = db.session.scalar(
        sa.select(sa.func.max(DuesRate.effective_from)).where(
            DuesRate.effective_from <= month_start(month))
    )
    if start is None:
        return []
    return list(db.session.scalars(
        sa.select(DuesRate).where(DuesRate.effective_from == start)
        .order_by(DuesRate.category, DuesRate.min_premises)
    ))


def rate_for(category: Category, premises: int | None, schedule: list[DuesRate]) -> DuesRate | None:
    """The rate of ``schedule`` for a member of this category (and number of premises)."""
    count = premises or 0
    for rate in schedule:
        if rate.category != category:
            continue
        if count >= rate.min_premises and (rate.max_premises is None or count <= rate.max_premises):
            return rate
    return None


def request_waiver(
    member: Member, from_month: date, to_month: date | None, amount_cents: int, reason: str,
    requested_by_id: int | None,
) -> DuesWaiver:
    """Ask for a member's dues to be waived or reduced; it counts once the chair approves.

    Raises:
        WaiverError: no reason, a negative amount, or months out of order.
    """
    reason = (reason or "").strip()
    if not reason:
        raise WaiverError(_l("Give the reason for the waiver."))
    if amount_cents < 0 or amount_cents > MAX_CENTS:
        raise WaiverError(_l("The reduced amount cannot be negative."))
    if to_month is not None and month_start(to_month) < month_start(from_month):
        raise WaiverError(_l("The last month cannot be before the first."))
    waiver = DuesWaiver(member_id=member.id, from_month=month_start(from_month),
                        to_month=month_start(to_month) if to_month else None,
                        amount_cents=amount_cents, reason=reason[:300],
                        requested_by_id=requested_by_id)
    db.session.add(waiver)
    db.session.flush()
    return waiver


def decide_waiver(waiver: DuesWaiver, approve: bool, decided_by_id: int | None) -> DuesWaiver:
    """The chair approves or rejects a waiver.

    Raises:
        WaiverError: already decided.
    """
    if waiver.status != WaiverStatus.PENDING:
        raise WaiverError(_l("This waiver has already been decided."))
    waiver.status = WaiverStatus.APPROVED if approve else WaiverStatus.REJECTED
    waiver.decided_by_id = decided_by_id
    waiver.decided_at = utcnow()
    db.session.flush()
    return waiver


# --- The monthly dues run -------------------------------------------------


@dataclass
class BillingResult:
    month: date
    charged: int = 0
    total_cents: int = 0
    already_charged: int = 0
    not_active: int = 0
    joined_later: int = 0
    no_rate: int = 0
    waived: int = 0
    credit_applied_cents: int = 0
    entry_id: int | None = None


def _approved_waivers(month: date) -> dict[int, DuesWaiver]:
    waivers = db.session.scalars(
        sa.select(DuesWaiver).where(
            DuesWaiver.status == WaiverStatus.APPROVED,
            DuesWaiver.from_month <= month,
            sa.or_(DuesWaiver.to_month.is_(None), DuesWaiver.to_month >= month),
        ).order_by(DuesWaiver.id)
    )
    return {w.member_id: w for w in waivers}


def bill_month(month: date, posted_by_id: int | None = None) -> BillingResult:
    """Charge every member active at the month's end the rate in force; idempotent.

    Members who joined after the month, or were suspended or had left by its
    end, are not charged; nor is anyone already charged for it. Members with
    credit have it applied to their oldest open charges.

    Raises:
        LedgerError: a month still to come, voluntary contributions are on, or no
            rates exist for the month.
        ClosedPeriodError: the month is closed.
    """
    month = month_start(month)
    if month > month_start(today_in_nairobi()):
        raise LedgerError(_l("Dues can be run for the current month or earlier, not for "
                             "%(month)s.", month=month.strftime("%Y-%m")))
    result = BillingResult(month=month)
    _lock_ledger()
    if settings().voluntary_contributions:
        raise LedgerError(_l("The association records voluntary contributions: no dues are "
                             "charged. Change this in the ledger settings."))
    check_open(month)
    schedule = schedule_for(month)
    if not schedule:
        raise LedgerError(_l("No dues rates apply to %(month)s. Enter the rate schedule first.",
                             month=month.strftime("%Y-%m")))
    end = month_end(month)
    status = statuses_on(end)
    waivers = _approved_waivers(month)
    charged_ids = set(db.session.scalars(
        sa.select(DuesCharge.member_id).where(DuesCharge.month == month)))
    members = db.session.execute(
        sa.select(Member.id, Member.category, Member.rental_premises, Member.joined_on)
        .order_by(Member.seq)
    ).all()
    receivable = account_id("dues_receivable")
    income_ids = {category: account_id(key) for category, key in DUES_INCOME_KEY.items()}
    lines, charges = [], []
    for member_id, category, premises, joined_on in members:
        if member_id in charged_ids:
            result.already_charged += 1
            continue
        if joined_on > end:
            result.joined_later += 1
            continue
        if status.get(member_id) != MemberStatus.ACTIVE:
            result.not_active += 1
            continue
        rate = rate_for(category, premises, schedule)
        if rate is None:
            result.no_rate += 1
            continue
        amount, waiver = rate.amount_cents, waivers.get(member_id)
        if waiver is not None:
            amount = min(amount, waiver.amount_cents)
            if amount == 0:
                result.waived += 1
                continue
        lines.append(Line(receivable, Side.DEBIT, amount, member_id))
        lines.append(Line(income_ids[category], Side.CREDIT, amount))
        charges.append((member_id, amount, rate.id, waiver.id if waiver else None))
        result.charged += 1
        result.total_cents += amount
    if not charges:
        return result
    entry = post_entry(end, f"Dues for {month:%Y-%m}", EntrySource.DUES_RUN, lines,
                       posted_by_id, reference=f"DUES-{month:%Y-%m}")
    result.entry_id = entry.id
    now = utcnow()
    insert_audited(DuesCharge, [
        {"member_id": m, "month": month, "amount_cents": a, "rate_id": r, "waiver_id": w,
         "entry_id": entry.id, "open_cents": a, "created_at": now}
        for m, a, r, w in charges
    ])
    result.credit_applied_cents = apply_credits(end, posted_by_id,
                                                member_ids={c[0] for c in charges})
    return result


def _lock_ledger() -> None:
    """Serialise billing runs: lock the settings row (SQLite is serialised already)."""
    settings()
    if is_postgres(db.session):
        db.session.execute(
            sa.select(LedgerSettings.id).where(LedgerSettings.id == 1).with_for_update()
        )


# --- Balances -------------------------------------------------------------


def _member_account_balance(key: str, member_ids=None) -> dict[int, int]:
    """Debit-minus-credit of an account's member sub-ledger, per member."""
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    stmt = (sa.select(Posting.member_id, sa.func.sum(signed))
            .where(Posting.account_id == account_id(key), Posting.member_id.is_not(None))
            .group_by(Posting.member_id))
    if member_ids is not None:
        stmt = stmt.where(Posting.member_id.in_(list(member_ids)))
    return {member_id: int(total) for member_id, total in db.session.execute(stmt)}


def credit_balances(member_ids=None) -> dict[int, int]:
    """Cents each member has paid in advance (member credit is a liability: credit-normal)."""
    return {m: -v for m, v in _member_account_balance("member_credit", member_ids).items() if v}


def member_balance(member_id: int) -> int:
    """What the member owes (positive) or has in credit (negative), in cents."""
    owed = _member_account_balance("dues_receivable", [member_id]).get(member_id, 0)
    credit = credit_balances([member_id]).get(member_id, 0)
    return owed - credit


def _open_charges(member_id: int) -> list[DuesCharge]:
    return _open_charges_of([member_id]).get(member_id, [])


def _open_charges_of(member_ids) -> dict[int, list[DuesCharge]]:
    """Each member's unpaid charges, oldest first, in one query."""
    wanted = set(member_ids)
    stmt = (sa.select(DuesCharge).where(DuesCharge.open_cents > 0)
            .order_by(DuesCharge.member_id, DuesCharge.month, DuesCharge.id))
    if len(wanted) <= 500:
        stmt = stmt.where(DuesCharge.member_id.in_(wanted))
    found = defaultdict(list)
    for charge in db.session.scalars(stmt):
        if charge.member_id in wanted:
            found[charge.member_id].append(charge)
    return found


def _allocate(charges: list[DuesCharge], amount: int) -> list[tuple[DuesCharge, int]]:
    """Settle the oldest charges first; returns (charge, cents) pairs."""
    parts = []
    for charge in charges:
        if amount <= 0:
            break
        if charge.open_cents <= 0:
            continue  # settled by an earlier payment of the same batch
        part = min(charge.open_cents, amount)
        parts.append((charge, part))
        amount -= part
    return parts


def apply_credits(on: date, posted_by_id: int | None, member_ids=None) -> int:
    """Use members' advance payments to settle their open charges, oldest first."""
    credits = credit_balances(member_ids)
    if not credits:
        return 0
    credit_account, receivable = account_id("member_credit"), account_id("dues_receivable")
    lines, plans = [], []
    open_charges = _open_charges_of(credits)
    for member_id, credit in sorted(credits.items()):
        parts = _allocate(open_charges.get(member_id, []), credit)
        used = sum(part for _, part in parts)
        if used:
            lines += [Line(credit_account, Side.DEBIT, used, member_id),
                      Line(receivable, Side.CREDIT, used, member_id)]
            plans.append(parts)
    if not plans:
        return 0
    entry = post_entry(on, "Member credit applied to dues", EntrySource.CREDIT_APPLIED, lines,
                       posted_by_id)
    allocations = []
    for parts in plans:
        for charge, part in parts:
            charge.open_cents -= part
            allocations.append({"charge_id": charge.id, "payment_id": None, "entry_id": entry.id,
                                "amount_cents": part, "reversed_by_entry_id": None})
    insert_audited(Allocation, allocations)
    return sum(row["amount_cents"] for row in allocations)


# --- Payments and receipts ------------------------------------------------


def normalise_mpesa_code(code: str | None) -> str | None:
    """M-Pesa receipt codes are 10 letters and digits, upper case."""
    text = "".join((code or "").split()).upper()
    return text or None


def record_payment(
    member: Member,
    amount_cents: int,
    method: PaymentMethod,
    paid_on: date,
    received_by_id: int | None,
    reference: str | None = None,
    source: EntrySource = EntrySource.PAYMENT,
    issued_on: date | None = None,
) -> Payment:
    """Record money from a member, settle their oldest charges, keep the rest as credit,
    and issue the numbered receipt.

    Args:
        reference: the M-Pesa code for M-Pesa payments (required), else a bank or
            other reference.
        issued_on: the receipt's date, which picks its year's numbers (default today;
            the demo data back-dates it).

    Raises:
        LedgerError: a bad amount or date, or an M-Pesa payment without its code.
        DuplicatePaymentError: that M-Pesa code is already in the books.
        ClosedPeriodError: ``paid_on`` is in a closed month.
    """
    mpesa_code, reference = _checked_payment(amount_cents, method, paid_on, reference)
    voluntary = settings().voluntary_contributions
    parts = [] if voluntary else _allocate(_open_charges(member.id), amount_cents)
    lines = _payment_lines(member.id, member.category, amount_cents, method, parts, voluntary)
    savepoint = db.session.begin_nested()
    try:
        entry = post_entry(paid_on, _payment_memo(method, member.member_no), source,
                           lines, received_by_id, reference=mpesa_code or reference)
        payment = Payment(member_id=member.id, amount_cents=amount_cents, method=method,
                          mpesa_code=mpesa_code, reference=reference, paid_on=paid_on,
                          received_by_id=received_by_id, entry_id=entry.id)
        db.session.add(payment)
        for charge, part in parts:
            charge.open_cents -= part
            db.session.add(Allocation(charge_id=charge.id, payment=payment,
                                      entry_id=entry.id, amount_cents=part))
        _new_receipt(payment, issued_on)
        db.session.flush()  # the payment, its allocations and receipt: one write, one audit
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        # Another request recorded the same M-Pesa code a moment ago.
        raise DuplicatePaymentError(
            _l("The M-Pesa code %(code)s is already in the books.", code=mpesa_code)) from None
    return payment


def _checked_payment(amount_cents: int, method: PaymentMethod, paid_on: date,
                     reference: str | None) -> tuple[str | None, str | None]:
    """A payment's (M-Pesa code, other reference), once it may be recorded.

    Raises:
        LedgerError: a bad amount or date, an M-Pesa payment without its code, a
            reference too long.
        ClosedPeriodError: ``paid_on`` is in a closed month.
    """
    if not isinstance(amount_cents, int) or not 0 < amount_cents <= MAX_CENTS:
        raise LedgerError(_l("The amount must be more than zero."))
    if paid_on > today_in_nairobi():
        raise LedgerError(_l("A payment cannot be dated in the future."))
    mpesa_code = None
    if method == PaymentMethod.MPESA:
        mpesa_code = normalise_mpesa_code(reference)
        if not mpesa_code or not mpesa_code.isalnum() or not 8 <= len(mpesa_code) <= 12:
            raise LedgerError(_l("Enter the M-Pesa code from the confirmation message, "
                                 "e.g. TC57ABC9XY."))
        reference = None
        # A code already in the books is refused by its unique index.
    reference = (reference or "").strip() or None
    if reference and len(reference) > 40:  # the journal entry keeps 40 characters
        raise LedgerError(_l("The reference is too long: at most 40 characters."))
    check_open(paid_on)
    return mpesa_code, reference


def _payment_memo(method: PaymentMethod, member_no: str) -> str:
    return f"{method.value} payment from {member_no}"


def _payment_lines(member_id: int, category: Category, amount_cents: int,
                   method: PaymentMethod, parts: list[tuple[DuesCharge, int]],
                   voluntary: bool) -> list[Line]:
    """Dr the money's account; Cr the dues settled by ``parts`` and the rest to the
    member's credit (or, for voluntary contributions, Cr the category's income)."""
    lines = [Line(account_id(METHOD_ACCOUNT_KEY[method]), Side.DEBIT, amount_cents)]
    if voluntary:
        lines.append(Line(account_id(DUES_INCOME_KEY[category]), Side.CREDIT, amount_cents))
        return lines
    settled = sum(part for _, part in parts)
    if settled:
        lines.append(Line(account_id("dues_receivable"), Side.CREDIT, settled, member_id))
    if amount_cents > settled:
        lines.append(Line(account_id("member_credit"), Side.CREDIT, amount_cents - settled,
                          member_id))
    return lines


@dataclass(frozen=True)
class NewPayment:
    """One payment of a batch for :func:`record_payments`."""

    member_id: int
    member_no: str
    category: Category
    amount_cents: int
    method: PaymentMethod
    paid_on: date
    reference: str | None = None


def record_payments(payments: list[NewPayment], received_by_id: int | None = None,
                    source: EntrySource = EntrySource.PAYMENT) -> list[int]:
    """Record many payments at once (a batch of M-Pesa confirmations): for each, the
    same entry, allocations, credit and numbered receipt as :func:`record_payment`,
    in a few statements for the whole batch. Returns the payments' ids, in order.

    Payments of one member settle their charges in the order given. The receipts
    take consecutive numbers of this year.

    Raises:
        LedgerError, ClosedPeriodError: as :func:`record_payment`, for any payment;
            nothing of the batch is written.
        IntegrityError: an M-Pesa code already in the books (the caller undoes the
            transaction).
    """
    if not payments:
        return []
    checked = [_checked_payment(p.amount_cents, p.method, p.paid_on, p.reference)
               for p in payments]
    voluntary = settings().voluntary_contributions
    charges = {} if voluntary else _open_charges_of({p.member_id for p in payments})
    plans = []
    for payment, (mpesa_code, reference) in zip(payments, checked, strict=True):
        parts = [] if voluntary else _allocate(charges.get(payment.member_id, []),
                                                payment.amount_cents)
        for charge, part in parts:
            charge.open_cents -= part  # the member's next payment settles the next charge
        lines = _balanced(_payment_lines(payment.member_id, payment.category,
                                         payment.amount_cents, payment.method, parts,
                                         voluntary))
        plans.append((payment, mpesa_code, reference, parts, lines))
    now = utcnow()
    entry_ids = insert_audited(JournalEntry, [
        {"entry_date": p.paid_on, "memo": _payment_memo(p.method, p.member_no), "source": source,
         "reference": code or reference, "posted_by_id": received_by_id, "posted_at": now,
         "reverses_id": None}
        for p, code, reference, _, _ in plans])
    insert_audited(Posting, [
        {"entry_id": entry_id, "account_id": line.account_id, "member_id": line.member_id,
         "side": line.side, "amount_cents": line.amount_cents}
        for entry_id, (*_, lines) in zip(entry_ids, plans, strict=True) for line in lines])
    by_month: dict[date, list[Line]] = defaultdict(list)
    for p, *_, lines in plans:
        by_month[month_start(p.paid_on)] += lines
    for month, lines in sorted(by_month.items()):
        _add_to_month_totals(month, lines)
    payment_ids = insert_audited(Payment, [
        {"member_id": p.member_id, "amount_cents": p.amount_cents, "method": p.method,
         "mpesa_code": code, "reference": reference, "paid_on": p.paid_on,
         "received_by_id": received_by_id, "entry_id": entry_id, "created_at": now}
        for entry_id, (p, code, reference, _, _) in zip(entry_ids, plans, strict=True)])
    insert_audited(Allocation, [
        {"charge_id": charge.id, "payment_id": payment_id, "entry_id": entry_id,
         "amount_cents": part, "reversed_by_entry_id": None}
        for payment_id, entry_id, (_, _, _, parts, _) in zip(payment_ids, entry_ids, plans,
                                                               strict=True)
        for charge, part in parts])
    year = today_in_nairobi().year
    first = _next_receipt_seq(year, len(plans)) - len(plans) + 1
    insert_audited(Receipt, [
        {**_numbered(year, seq), "payment_id": payment_id, "issued_at": now,
         "voided_at": None, "void_reason": None, "voided_by_id": None, "void_entry_id": None}
        for seq, payment_id in enumerate(payment_ids, start=first)])
    db.session.flush()  # the charges' open amounts (audited as any flush)
    return payment_ids


def _next_receipt_seq(year: int, count: int = 1) -> int:
    """Take the next ``count`` numbers of ``year`` (returns the last); the lock is held
    until the transaction ends, and a rollback gives the numbers back, so numbers have
    no gaps."""
    counter = ReceiptCounter.__table__
    bump = (sa.update(counter).where(counter.c.year == year)
            .values(last_seq=counter.c.last_seq + count).returning(counter.c.last_seq))
    seq = db.session.execute(bump).scalar()
    if seq is None:
        db.session.execute(
            upsert(db.session, counter).values(year=year, last_seq=0).on_conflict_do_nothing())
        seq = db.session.execute(bump).scalar()
    return seq


def issue_receipt(payment: Payment, issued_on: date | None = None) -> Receipt:
    """Give a payment the next receipt number of the year it is issued in."""
    receipt = _new_receipt(payment, issued_on)
    db.session.flush()
    return receipt


def _short_code() -> str:
    """The association's short code, which never changes once numbers carry it
    (remembered for the session)."""
    from association.profile.services import get_profile

    info = db.session.info
    if "ledger_short_code" not in info:
        info["ledger_short_code"] = get_profile().short_code
    return info["ledger_short_code"]


def _new_receipt(payment: Payment, issued_on: date | None) -> Receipt:
    """The payment's receipt, numbered and added to the session (flushed by the caller)."""
    # A back-dated receipt (demo data) is stamped 09:00 Nairobi time (06:00 UTC) that day.
    issued_at = utcnow() if issued_on is None else datetime.combine(issued_on, time(6, 0))
    year = (issued_on or today_in_nairobi()).year
    with db.session.no_autoflush:  # the payment is flushed with its receipt, in one write
        numbered = _numbered(year, _next_receipt_seq(year))
    receipt = Receipt(**numbered, payment=payment, issued_at=issued_at)
    db.session.add(receipt)
    return receipt


def _numbered(year: int, seq: int) -> dict:
    """A receipt's number (``{SHORT}-{YYYY}-{NNNNNN}``) and the code that proves it."""
    return {"number": f"{_short_code()}-{year}-{seq:06d}", "year": year, "seq": seq,
            "check_code": secrets.token_hex(4)}


def void_receipt(receipt: Receipt, reason: str, voided_by_id: int | None) -> Receipt:
    """Void a receipt: reverse its payment's entry and reopen the months it paid.

    The receipt keeps its number in the register, marked VOID with the reason.

    Raises:
        AlreadyVoidedError: voided before.
        LedgerError: no reason given.
        ClosedPeriodError: today's month is closed.
    """
    if receipt.is_void:
        raise AlreadyVoidedError(_l("Receipt %(no)s is already void.", no=receipt.number))
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise LedgerError(_l("Give the reason for voiding the receipt."))
    payment = receipt.payment
    reversal = reverse_entry(payment.entry, f"Void of receipt {receipt.number}: {reason}"[:300],
                             voided_by_id)
    for allocation in payment.allocations:
        if allocation.reversed_by_entry_id is None:
            allocation.reversed_by_entry_id = reversal.id
            allocation.charge.open_cents += allocation.amount_cents
    receipt.voided_at = utcnow()
    receipt.void_reason = reason[:300]
    receipt.voided_by_id = voided_by_id
    receipt.void_entry_id = reversal.id
    db.session.flush()
    _undo_spent_credit(payment.member_id, reversal.entry_date, voided_by_id)
    return receipt


def _undo_spent_credit(member_id: int, on: date, posted_by_id: int | None) -> None:
    """If the voided payment's credit was already used, reopen those charges (newest first)."""
    owed_credit = -credit_balances([member_id]).get(member_id, 0)
    if owed_credit <= 0:
        return
    allocations = db.session.scalars(
        sa.select(Allocation).join(DuesCharge)
        .where(DuesCharge.member_id == member_id, Allocation.payment_id.is_(None),
               Allocation.reversed_by_entry_id.is_(None))
        .order_by(DuesCharge.month.desc(), Allocation.id.desc())
    )
    undo, remaining = [], owed_credit
    for allocation in allocations:
        if remaining <= 0:
            break
        take = min(allocation.amount_cents, remaining)
        undo.append((allocation, take))
        remaining -= take
    if not undo:
        return
    amount = sum(take for _, take in undo)
    entry = post_entry(on, "Credit withdrawn after a voided receipt", EntrySource.ADJUSTMENT,
                       [Line(account_id("dues_receivable"), Side.DEBIT, amount, member_id),
                        Line(account_id("member_credit"), Side.CREDIT, amount, member_id)],
                       posted_by_id)
    for allocation, take in undo:
        allocation.reversed_by_entry_id = entry.id
        allocation.charge.open_cents += take
        if take < allocation.amount_cents:  # only part of it was paid by the withdrawn credit
            db.session.add(Allocation(charge_id=allocation.charge_id, entry_id=allocation.entry_id,
                                      amount_cents=allocation.amount_cents - take))
    db.session.flush()


# --- Reading the books ----------------------------------------------------


@dataclass
class TrialBalanceRow:
    account: Account
    debit_cents: int
    credit_cents: int


@dataclass
class TrialBalance:
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit_cents(self) -> int:
        return sum(r.debit_cents for r in self.rows)

    @property
    def total_credit_cents(self) -> int:
        return sum(r.credit_cents for r in self.rows)


def trial_balance(as_of: date | None = None, start: date | None = None) -> TrialBalance:
    """Each account's net balance on its debit or credit side, from ``start`` to ``as_of``.

    Whole months come from the month totals; only the days of a month cut by
    ``start`` or ``as_of`` are added up from the postings themselves.
    """
    low, high = start or date.min, as_of or date.max
    totals: dict[int, int] = defaultdict(int)
    if month_start(low) == month_start(high):
        whole, parts = [], [(low, high)]
        if low.day == 1 and high == month_end(high):
            whole, parts = [(low, low)], []
    else:
        parts = []
        if low.day != 1:
            parts.append((low, month_end(low)))
            low = month_end(low) + timedelta(days=1)
        if high != month_end(high):
            parts.append((month_start(high), high))
            high = month_start(high) - timedelta(days=1)
        whole = [(low, month_start(high))] if low <= high else []
    for first, last in whole:
        stmt = (sa.select(AccountMonthTotal.account_id,
                          sa.func.sum(AccountMonthTotal.debit_cents
                                      - AccountMonthTotal.credit_cents))
                .where(AccountMonthTotal.month.between(first, last))
                .group_by(AccountMonthTotal.account_id))
        for account, total in db.session.execute(stmt):
            totals[account] += int(total)
    signed = sa.case((Posting.side == Side.DEBIT, Posting.amount_cents),
                     else_=-Posting.amount_cents)
    for first, last in parts:
        stmt = (sa.select(Posting.account_id, sa.func.sum(signed))
                .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                .where(JournalEntry.entry_date.between(first, last))
                .group_by(Posting.account_id))
        for account, total in db.session.execute(stmt):
            totals[account] += int(total)
    accounts = db.session.scalars(sa.select(Account).order_by(Account.code))
    rows = [TrialBalanceRow(a, max(totals.get(a.id, 0), 0), max(-totals.get(a.id, 0), 0))
            for a in accounts if totals.get(a.id)]
    return TrialBalance(rows)
