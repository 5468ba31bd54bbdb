"""A member's standing: what they owe, the month they are paid up to, and what they have
paid in advance. One definition, shown with the same words on every surface (statement,
pay page, payment form, arrears list, the member's home, the receipt, SMS and USSD).

- **Balance** is what the member owes now: every dues charge posted so far (a month's dues
  count once the dues run has posted them, whatever the entry's date), less every payment
  and credit. It is never shown negative: money paid beyond the charges is shown as
  **paid in advance**, not as a negative balance or "in credit".
- **Paid up to** is the last month for which nothing is owed: every month charged up to it
  is settled (credit held beside unpaid months settles the oldest first, as the next dues
  run will), and after the last month charged, the months that money paid in advance
  covers at the rates adopted for them (and months a waiver clears entirely, up to this
  month). None when the member's first month is still unpaid or nothing is charged yet.

``through_entry_id`` gives the standing as it was right after that journal entry (the
receipt's "after this payment"): the books, the member's status, the waivers and "this
month" as they were then, so that a receipt says the same thing for ever.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import pgettext

from association.core import dates
from association.core.money import format_kes
from association.core.time import add_months, month_start, today_in_nairobi
from association.extensions import db
from association.ledger.balances import net_owed
from association.ledger.models import (
    Allocation,
    DuesCharge,
    DuesWaiver,
    JournalEntry,
    WaiverStatus,
)
from association.ledger.settings import settings
from association.members.models import Member, MemberStatus, MemberStatusChange

#: How far ahead money paid in advance is counted in months (a member paying five years
#: ahead is told "paid up to" five years on, not a loop without end).
MAX_MONTHS_AHEAD = 60


@dataclass(frozen=True)
class Standing:
    member_id: int
    #: What the ledger says: owed (positive) or paid in advance (negative), in cents.
    net_cents: int
    #: First day of the last month fully paid, or None.
    paid_up_to: date | None
    #: Money paid for the months after this one (what pays this month's dues before the
    #: dues run posts them is not "in advance": it shows as paid up to this month).
    advance_cents: int
    #: The months charged and still unpaid once credit held is counted, and the oldest.
    unpaid_months: int = 0
    oldest_unpaid: date | None = None

    @property
    def balance_cents(self) -> int:
        """What the member owes now; 0 when paid up or paid in advance."""
        return max(self.net_cents, 0)

    @property
    def owes(self) -> bool:
        return self.net_cents > 0

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the reader's language, as every screen and PDF shows them."""
        lines = [(pgettext("what a member owes", "Balance"), format_kes(self.balance_cents))]
        if self.paid_up_to is not None:
            lines.append((_("Paid up to"), dates.month(self.paid_up_to)))
        if self.advance_cents:
            lines.append((_("Paid in advance"), format_kes(self.advance_cents)))
        return lines

    def summary(self) -> str:
        """One line, for an SMS, a USSD answer or a receipt:
        "Paid up to: Dec 2026; balance KES 0.00"."""
        values = {"balance": format_kes(self.balance_cents),
                  "advance": format_kes(self.advance_cents)}
        if self.paid_up_to is not None:
            values["month"] = dates.month(self.paid_up_to)
            if self.advance_cents:
                return _("Paid up to: %(month)s; balance %(balance)s; paid in advance "
                         "%(advance)s", **values)
            return _("Paid up to: %(month)s; balance %(balance)s", **values)
        if self.advance_cents:
            return _("Balance %(balance)s; paid in advance %(advance)s", **values)
        return _("Balance %(balance)s", **values)


def standing_of(member_id: int, *, through_entry_id: int | None = None) -> Standing:
    return standings_of([member_id], through_entry_id=through_entry_id)[member_id]


def standings_of(member_ids, *, through_entry_id: int | None = None) -> dict[int, Standing]:
    """Every given member's standing, in a few queries per 5,000 members."""
    ids = sorted(set(member_ids))
    found = {}
    for start in range(0, len(ids), 5000):
        found.update(_standings(ids[start:start + 5000], through_entry_id))
    return found


@dataclass
class _Charges:
    """A member's charges as the standing needs them."""

    #: (month, cents still open) of the unpaid ones, oldest first.
    unpaid: list[tuple[date, int]] = field(default_factory=list)
    #: The last month charged before the first unpaid one (the last charged if none is).
    settled_to: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class _Member:
    id: int
    category: object
    rental_premises: int | None
    joined_on: date
    active: bool


def _standings(ids: list[int], through_entry_id: int | None) -> dict[int, Standing]:
    net = net_owed(ids, through_entry_id)
    if through_entry_id is None:
        charges, this_month = _charges_now(ids), month_start(today_in_nairobi())
        as_of = None
    else:
        entry = db.session.get(JournalEntry, through_entry_id)
        as_of = entry.entry_date if entry else today_in_nairobi()
        charges, this_month = _charges_then(ids, through_entry_id), month_start(as_of)
    members = _members(ids, as_of)
    ahead = None if settings().voluntary_contributions else \
        _Ahead(ids, this_month, entry.posted_at if through_entry_id is not None and entry
               else None)
    found = {}
    for member_id in ids:
        member_net = net.get(member_id, 0)
        found[member_id] = _standing(member_id, members.get(member_id),
                                     charges.get(member_id, _Charges()), member_net, ahead)
    return found


def _members(ids: list[int], as_of: date | None) -> dict[int, _Member]:
    """The members' rate-deciding columns, and whether they were active (now, or on
    ``as_of`` from the dated status history)."""
    rows = db.session.execute(sa.select(Member.id, Member.category, Member.rental_premises,
                                        Member.joined_on, Member.status)
                              .where(Member.id.in_(ids))).all()
    status = {row.id: row.status for row in rows}
    if as_of is not None:
        for member_id, then in db.session.execute(
                sa.select(MemberStatusChange.member_id, MemberStatusChange.status)
                .where(MemberStatusChange.member_id.in_(ids),
                       MemberStatusChange.effective_on <= as_of)
                .order_by(MemberStatusChange.member_id, MemberStatusChange.effective_on,
                          MemberStatusChange.id)):
            status[member_id] = then
    return {row.id: _Member(row.id, row.category, row.rental_premises, row.joined_on,
                            status[row.id] == MemberStatus.ACTIVE) for row in rows}


def _charges_now(ids: list[int]) -> dict[int, _Charges]:
    """From the charges' open amounts: the unpaid ones, and per member two months."""
    found: dict[int, _Charges] = {}
    for member_id, month, still_open in db.session.execute(
            sa.select(DuesCharge.member_id, DuesCharge.month, DuesCharge.open_cents)
            .where(DuesCharge.member_id.in_(ids), DuesCharge.open_cents > 0)
            .order_by(DuesCharge.member_id, DuesCharge.month)):
        found.setdefault(member_id, _Charges()).unpaid.append((month, still_open))
    first_unpaid = (sa.select(DuesCharge.member_id, sa.func.min(DuesCharge.month).label("first"))
                    .where(DuesCharge.member_id.in_(ids), DuesCharge.open_cents > 0)
                    .group_by(DuesCharge.member_id).subquery())
    before_first = sa.or_(first_unpaid.c.first.is_(None), DuesCharge.month < first_unpaid.c.first)
    for member_id, last, settled_to in db.session.execute(
            sa.select(DuesCharge.member_id, sa.func.max(DuesCharge.month),
                      sa.func.max(sa.case((before_first, DuesCharge.month))))
            .outerjoin(first_unpaid, first_unpaid.c.member_id == DuesCharge.member_id)
            .where(DuesCharge.member_id.in_(ids)).group_by(DuesCharge.member_id)):
        charges = found.setdefault(member_id, _Charges())
        charges.last, charges.settled_to = _as_date(last), _as_date(settled_to)
    return found


def _charges_then(ids: list[int], through_entry_id: int) -> dict[int, _Charges]:
    """As :func:`_charges_now`, as the charges stood after ``through_entry_id``, from the
    allocations then in force."""
    in_force = sa.or_(Allocation.reversed_by_entry_id.is_(None),
                      Allocation.reversed_by_entry_id > through_entry_id)
    settled = dict(db.session.execute(
        sa.select(Allocation.charge_id, sa.func.sum(Allocation.amount_cents))
        .join(DuesCharge, DuesCharge.id == Allocation.charge_id)
        .where(DuesCharge.member_id.in_(ids), Allocation.entry_id <= through_entry_id,
               in_force)
        .group_by(Allocation.charge_id)).all())
    found: dict[int, _Charges] = {}
    for charge_id, member_id, month, amount in db.session.execute(
            sa.select(DuesCharge.id, DuesCharge.member_id, DuesCharge.month,
                      DuesCharge.amount_cents)
            .where(DuesCharge.member_id.in_(ids), DuesCharge.entry_id <= through_entry_id)
            .order_by(DuesCharge.member_id, DuesCharge.month)):
        charges = found.setdefault(member_id, _Charges())
        still_open = amount - int(settled.get(charge_id, 0))
        if still_open > 0:
            charges.unpaid.append((month, still_open))
        elif not charges.unpaid:
            charges.settled_to = month
        charges.last = month
    return found


def _as_date(value) -> date | None:
    """A date from MAX() of dates (SQLite gives text back)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class _Ahead:
    """What each month after the last one charged would cost a member: the rate adopted
    for it, less an approved waiver (as decided by ``decided_by``, when given)."""

    def __init__(self, ids: list[int], this_month: date, decided_by: datetime | None):
        from association.ledger.dues import rate_for, schedule_for

        self._rate_for, self._schedule_for = rate_for, schedule_for
        self._schedules: dict[date, list] = {}
        self.this_month = this_month
        self.waivers: dict[int, list[DuesWaiver]] = {}
        stmt = (sa.select(DuesWaiver).where(DuesWaiver.member_id.in_(ids),
                                            DuesWaiver.status == WaiverStatus.APPROVED)
                .order_by(DuesWaiver.id))
        if decided_by is not None:
            stmt = stmt.where(DuesWaiver.decided_at <= decided_by)
        for waiver in db.session.scalars(stmt):
            self.waivers.setdefault(waiver.member_id, []).append(waiver)

    def cost(self, member: _Member, month: date) -> int | None:
        """Cents due for ``month``; None when no rate applies (nothing to count ahead)."""
        if month not in self._schedules:
            self._schedules[month] = self._schedule_for(month)
        rate = self._rate_for(member.category, member.rental_premises, self._schedules[month])
        if rate is None:
            return None
        amount = rate.amount_cents
        for waiver in self.waivers.get(member.id, []):  # the latest approved one holds
            if waiver.from_month <= month and (waiver.to_month is None or waiver.to_month >= month):
                amount = min(rate.amount_cents, waiver.amount_cents)
        return amount


def _standing(member_id: int, member: _Member | None, charges: _Charges, net: int,
              ahead: _Ahead | None) -> Standing:
    # Credit held: what the member paid that no charge has used yet. Beside unpaid months
    # (a voided receipt can reopen months while a later payment sits as credit) it settles
    # the oldest first, as the next dues run will.
    credit = max(sum(still_open for _, still_open in charges.unpaid) - net, 0)
    settled_to = charges.settled_to
    for index, (month, still_open) in enumerate(charges.unpaid):
        if still_open > credit:
            rest = charges.unpaid[index:]
            return Standing(member_id, net, settled_to, 0, len(rest), rest[0][0])
        credit -= still_open
        settled_to = month
    if charges.unpaid:
        settled_to = charges.last
    if member is None or ahead is None or not member.active:
        return Standing(member_id, net, settled_to, credit)
    month = add_months(settled_to, 1) if settled_to else month_start(member.joined_on)
    beyond_this_month = credit
    for _step in range(MAX_MONTHS_AHEAD):
        cost = ahead.cost(member, month)
        if cost is None:
            break
        if cost == 0:
            if month > ahead.this_month:
                break  # a waived month still to come is not "paid"
        elif credit >= cost:
            credit -= cost
        else:
            break
        settled_to = month
        if month <= ahead.this_month:
            beyond_this_month = credit
        month = add_months(month, 1)
    return Standing(member_id, net, settled_to, beyond_this_month)
