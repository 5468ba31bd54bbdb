"""The public transparency page: aggregates only, never a name, phone, ID or address.

For each recent month: money collected and spent by category (from the journal, through the
ledger's income and expenditure report), the number of paying members, patrol nights covered
and incident counts by zone and category (from the patrols' public summary), and the dates
and resolutions of published general meetings.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from association.core import dates
from association.core.charts import Chart, bar_chart
from association.core.time import add_months, month_end, month_start, today_in_nairobi
from association.extensions import db
from association.i18n import enum_label
from association.ledger.accounts import account
from association.ledger.models import Payment, Receipt
from association.ledger.reports import Period, collections, income_expenditure
from association.meetings.models import GENERAL_TYPES, Meeting, MinutesStatus, ResolutionKind
from association.patrols.models import IncidentCategory
from association.patrols.public import IncidentTable, incident_table, public_summary

#: How many months the page shows.
MONTHS = 6
#: Categories with fewer payments than this are shown together, never on their own.
MIN_PAYMENTS = 3


@dataclass
class MonthSummary:
    month: date
    income: list[tuple[str, int]] = field(default_factory=list)
    expenses: list[tuple[str, int]] = field(default_factory=list)
    income_cents: int = 0
    expense_cents: int = 0
    paying_members: int = 0
    #: {"nights_covered", "nights", "incidents": {(zone, category): n}} or None.
    patrols: dict | None = None
    #: (date, label, [resolution texts]) of published general meetings in the month.
    meetings: list[tuple[date, str, list[str]]] = field(default_factory=list)

    def incidents(self) -> IncidentTable:
        """Incident counts by zone and category, with counts below 3 folded so that no cell
        or total points at a household (see :func:`association.patrols.public.incident_table`)."""
        return incident_table((self.patrols or {}).get("incidents", {}))

    @staticmethod
    def category_label(category: str) -> str:
        return _incident_label(category)

    def charts(self) -> list[Chart]:
        """The month's money by category, collected and spent, as two bar charts."""
        key = self.month.strftime("%Y-%m")
        return [
            bar_chart(f"collected-{key}", _("Collected, by category"),
                      [name for name, _c in self.income],
                      [(_("Collected"), [cents for _n, cents in self.income])], money=True,
                      summary=_("Money collected in %(month)s by category, in KES.",
                                month=dates.month(self.month))),
            bar_chart(f"spent-{key}", _("Spent, by category"),
                      [name for name, _c in self.expenses],
                      [(_("Spent"), [cents for _n, cents in self.expenses])], money=True,
                      summary=_("Money spent in %(month)s by category, in KES.",
                                month=dates.month(self.month))),
        ]


def _incident_label(category) -> str:
    """The translated label of an incident category (given as its value or enum)."""
    if hasattr(category, "value"):
        return enum_label(category)
    try:
        return str(IncidentCategory(str(category)).label)
    except ValueError:
        return str(category).replace("_", " ")


def patrol_summary(start: date, end: date) -> dict:
    """The patrols' public figures: nights covered and incident counts, no names."""
    return public_summary(start, end)


def paying_members(start: date, end: date) -> int:
    """Members with at least one valid receipt for money paid in the period."""
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Payment.member_id)))
        .join(Receipt, Receipt.payment_id == Payment.id)
        .where(Receipt.voided_at.is_(None), Payment.paid_on >= start, Payment.paid_on <= end)
    ) or 0


def published_meetings(start: date, end: date) -> list[tuple[date, str, list[str]]]:
    """Published general meetings in the period with their passed resolutions' texts
    (elections left out, as they name people; confirmations of minutes too)."""
    meetings = db.session.scalars(
        sa.select(Meeting).where(Meeting.minutes_status == MinutesStatus.PUBLISHED,
                                 Meeting.type.in_([t.value for t in GENERAL_TYPES]),
                                 Meeting.held_on >= start, Meeting.held_on <= end)
        .order_by(Meeting.held_on))
    out = []
    for meeting in meetings:
        texts = [r.text for r in meeting.resolutions if r.passed and r.kind not in (
            ResolutionKind.ELECTION, ResolutionKind.CONFIRM_MINUTES)]
        out.append((meeting.held_on, enum_label(meeting.type), texts))
    return out


def month_summary(month: date) -> MonthSummary:
    """The public figures of one month (up to today for the current month).

    Collected is money actually received from members (valid receipts) by their category,
    plus donations; spent is the expenditure posted in the books, by expense account.
    """
    start = month_start(month)
    end = min(month_end(start), max(today_in_nairobi(), start))
    period = Period(start, end)
    received = collections(period)
    by_category = received.tables[2]  # by member category
    summary = MonthSummary(month=start)
    # A category with one or two payers would show what those people paid: fold it in.
    small = [row for row in by_category.rows if row[5] and row[1] < MIN_PAYMENTS]
    summary.income = [(row[0], row[5]) for row in by_category.rows
                      if row[5] and row[1] >= MIN_PAYMENTS]
    if small:
        summary.income.append((_("Other categories"), sum(row[5] for row in small)))
    report = income_expenditure(period)
    donations_code = account("donations").code
    summary.income += [(row[1], row[2]) for row in report.tables[0].rows
                       if row[0] == donations_code and row[2]]
    summary.expenses = [(row[1], row[2]) for row in report.tables[1].rows if row[2]]
    summary.income_cents = sum(cents for _name, cents in summary.income)
    summary.expense_cents = report.figures["expenditure"]
    summary.paying_members = paying_members(start, end)
    summary.patrols = patrol_summary(start, end)
    summary.meetings = published_meetings(start, end)
    return summary


def recent_months(today: date | None = None, count: int = MONTHS) -> list[date]:
    today = today or today_in_nairobi()
    return [add_months(today, -back) for back in range(count)]


def summaries(today: date | None = None) -> list[MonthSummary]:
    return [month_summary(m) for m in recent_months(today)]


def money_by_month_chart(months: list[MonthSummary]) -> Chart:
    """Money collected and spent, month by month (oldest first), from the same summaries
    the page shows."""
    ordered = sorted(months, key=lambda s: s.month)
    return bar_chart(
        "money-by-month", _("Money in and out, by month"),
        [dates.month(s.month) for s in ordered],
        [(_("Collected"), [s.income_cents for s in ordered]),
         (_("Spent"), [s.expense_cents for s in ordered])], money=True,
        summary=_("Money collected and spent each month, in KES."))
