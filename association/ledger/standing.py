"""A member's standing: what they owe, the month they are paid up to, and what they have
paid in advance. One definition, shown with the same words on every surface (statement,
pay page, payment form, arrears list, the member's home, the receipt, SMS and USSD).

- **Balance** is what the member owes now: every dues charge posted so far (a month's dues
  count once the dues run has posted them, whatever the entry's date), less every payment
  and credit. It is never shown negative: money paid beyond the charges is shown as
  **paid in advance**, not as a negative balance or "in credit".
- **Paid up to** is the last month for which nothing is owed: every month charged up to it
  is settled, and after the last month charged, the months that money paid in advance
  covers at the rate in force (and months a waiver clears entirely, up to this month).
  None when the member's first month is still unpaid or nothing is charged yet.

``through_entry_id`` gives the standing as it was right after that journal entry (the
receipt's "after this payment"); otherwise it is the standing now.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import gettext as _

from association.core.money import format_kes
from association.core.time import add_months, month_start, today_in_nairobi
from association.extensions import db
from association.i18n import current_language
from association.ledger.balances import net_owed
from association.ledger.models import Allocation, DuesCharge, DuesWaiver, WaiverStatus
from association.ledger.settings import settings
from association.members.models import Member, MemberStatus

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

    @property
    def balance_cents(self) -> int:
        """What the member owes now; 0 when paid up or paid in advance."""
        return max(self.net_cents, 0)

    @property
    def owes(self) -> bool:
        return self.net_cents > 0

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the reader's language, as every screen and PDF shows them."""
        lines = [(_("Balance"), format_kes(self.balance_cents))]
        if self.paid_up_to is not None:
            lines.append((_("Paid up to"), month_label(self.paid_up_to)))
        if self.advance_cents:
            lines.append((_("Paid in advance"), format_kes(self.advance_cents)))
        return lines

    def summary(self) -> str:
        """One line, for an SMS, a USSD answer or a receipt:
        "Paid up to: Dec 2026; balance KES 0.00"."""
        values = {"balance": format_kes(self.balance_cents),
                  "advance": format_kes(self.advance_cents)}
        if self.paid_up_to is not None:
            values["month"] = month_label(self.paid_up_to)
            if self.advance_cents:
                return _("Paid up to: %(month)s; balance %(balance)s; paid in advance "
                         "%(advance)s", **values)
            return _("Paid up to: %(month)s; balance %(balance)s", **values)
        if self.advance_cents:
            return _("Balance %(balance)s; paid in advance %(advance)s", **values)
        return _("Balance %(balance)s", **values)


def month_label(month: date) -> str:
    """ "Dec 2026" ("Des 2026" in Kiswahili), as a person reads a month (plain English's
    "Sep", as receipts write it, not en_KE's "Sept")."""
    return format_date(month, "MMM yyyy", locale=current_language())


def standing_of(member_id: int, *, through_entry_id: int | None = None) -> Standing:
    return standings_of([member_id], through_entry_id=through_entry_id)[member_id]


def standings_of(member_ids, *, through_entry_id: int | None = None) -> dict[int, Standing]:
    """Every given member's standing, in a few queries per 5,000 members."""
    ids = sorted(set(member_ids))
    found = {}
    for start in range(0, len(ids), 5000):
        found.update(_standings(ids[start:start + 5000], through_entry_id))
    return found


def _standings(ids: list[int], through_entry_id: int | None) -> dict[int, Standing]:
    net = net_owed(ids, through_entry_id)
    charges = _charges(ids, through_entry_id)
    members = {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(ids)))}
    ahead = _Ahead(ids) if not settings().voluntary_contributions else None
    found = {}
    for member_id in ids:
        member_net = net.get(member_id, 0)
        found[member_id] = Standing(member_id, member_net,
                                    *_paid_up_to(members.get(member_id),
                                                 charges.get(member_id, []), member_net, ahead))
    return found


def _charges(ids: list[int], through_entry_id: int | None) -> dict[int, list[tuple[date, int]]]:
    """(month, cents still open) of each member's charges, oldest first; as they stood
    after ``through_entry_id`` when given (from the allocations then in force)."""
    stmt = (sa.select(DuesCharge.id, DuesCharge.member_id, DuesCharge.month,
                      DuesCharge.amount_cents, DuesCharge.open_cents)
            .where(DuesCharge.member_id.in_(ids)).order_by(DuesCharge.member_id,
                                                            DuesCharge.month))
    settled: dict[int, int] = {}
    if through_entry_id is not None:
        stmt = stmt.where(DuesCharge.entry_id <= through_entry_id)
        in_force = sa.or_(Allocation.reversed_by_entry_id.is_(None),
                          Allocation.reversed_by_entry_id > through_entry_id)
        settled = dict(db.session.execute(
            sa.select(Allocation.charge_id, sa.func.sum(Allocation.amount_cents))
            .join(DuesCharge, DuesCharge.id == Allocation.charge_id)
            .where(DuesCharge.member_id.in_(ids), Allocation.entry_id <= through_entry_id,
                   in_force)
            .group_by(Allocation.charge_id)).all())
    found: dict[int, list[tuple[date, int]]] = {}
    for charge_id, member_id, month, amount, open_cents in db.session.execute(stmt):
        still_open = (open_cents if through_entry_id is None
                      else amount - int(settled.get(charge_id, 0)))
        found.setdefault(member_id, []).append((month, still_open))
    return found


class _Ahead:
    """What each month after the last one charged would cost a member: the rate in force
    then (today's schedule for months not yet started), less an approved waiver."""

    def __init__(self, ids: list[int]):
        from association.ledger.dues import rate_for, schedule_for

        self._rate_for, self._schedule_for = rate_for, schedule_for
        self._schedules: dict[date, list] = {}
        self.this_month = month_start(today_in_nairobi())
        self.waivers: dict[int, list[DuesWaiver]] = {}
        for waiver in db.session.scalars(
                sa.select(DuesWaiver).where(DuesWaiver.member_id.in_(ids),
                                            DuesWaiver.status == WaiverStatus.APPROVED)
                .order_by(DuesWaiver.id)):
            self.waivers.setdefault(waiver.member_id, []).append(waiver)

    def cost(self, member: Member, month: date) -> int | None:
        """Cents due for ``month``; None when no rate applies (nothing to count ahead)."""
        schedule_month = min(month, self.this_month)
        if schedule_month not in self._schedules:
            self._schedules[schedule_month] = self._schedule_for(schedule_month)
        rate = self._rate_for(member.category, member.rental_premises,
                              self._schedules[schedule_month])
        if rate is None:
            return None
        amount = rate.amount_cents
        for waiver in self.waivers.get(member.id, []):  # the latest approved one holds
            if waiver.from_month <= month and (waiver.to_month is None or waiver.to_month >= month):
                amount = min(rate.amount_cents, waiver.amount_cents)
        return amount


def _paid_up_to(member: Member | None, charges: list[tuple[date, int]], net: int,
                ahead: _Ahead | None) -> tuple[date | None, int]:
    """(paid up to, paid in advance) from the charges, oldest first, and the net owed."""
    advance = max(-net, 0)
    settled_to = None
    for month, still_open in charges:
        if still_open > 0:
            return settled_to, advance
        settled_to = month
    if member is None or ahead is None or member.status != MemberStatus.ACTIVE:
        return settled_to, advance
    month = add_months(settled_to, 1) if settled_to else month_start(member.joined_on)
    beyond_this_month = advance
    for _step in range(MAX_MONTHS_AHEAD):
        cost = ahead.cost(member, month)
        if cost is None:
            break
        if cost == 0:
            if month > ahead.this_month:
                break  # a waived month still to come is not "paid"
        elif advance >= cost:
            advance -= cost
        else:
            break
        settled_to = month
        if month <= ahead.this_month:
            beyond_this_month = advance
        month = add_months(month, 1)
    return settled_to, beyond_this_month
