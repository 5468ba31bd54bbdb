"""Dues: the rate schedules a meeting adopts, waivers the chair approves, and the
monthly dues run that charges every active member the rate in force.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.audit.services import insert_audited
from association.core import dates
from association.core.db import is_postgres
from association.core.money import MAX_CENTS
from association.core.time import month_end, month_start, today_in_nairobi, utcnow
from association.extensions import db
from association.ledger.accounts import DUES_INCOME_KEY, account_id
from association.ledger.balances import apply_credits
from association.ledger.errors import LedgerError, RateError, WaiverError
from association.ledger.journal import Line, post_entry
from association.ledger.models import (
    DuesCharge,
    DuesRate,
    DuesWaiver,
    EntrySource,
    LedgerSettings,
    Side,
    WaiverStatus,
)
from association.ledger.periods import check_open, is_closed
from association.ledger.settings import settings
from association.members.models import Category, Member, MemberStatus
from association.members.services import statuses_on


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
                           month=dates.month(effective_from)))
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
                           month=dates.month(effective_from)))
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
                             "%(month)s.", month=dates.month(month)))
    result = BillingResult(month=month)
    _lock_ledger()
    if settings().voluntary_contributions:
        raise LedgerError(_l("The association records voluntary contributions: no dues are "
                             "charged. Change this in the ledger settings."))
    check_open(month)
    schedule = schedule_for(month)
    if not schedule:
        raise LedgerError(_l("No dues rates apply to %(month)s. Enter the rate schedule first.",
                             month=dates.month(month)))
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
