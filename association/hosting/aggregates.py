"""Figures across associations for the host or a programme (issue 22 item 5): counts and
sums only, each computed inside its association (:func:`~.tenancy.use`) by the report
services its own officials use. No name, phone or ID number crosses to the host.
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from association.core.tabular import formula_safe
from association.core.time import today_in_nairobi
from association.hosting import catalogue
from association.hosting.services import HostingError
from association.hosting.tenancy import Tenant, use
from association.ledger.reports import Period, ReportError, parse_date


@dataclass
class Figures:
    """One association's figures for the period (or the total of several)."""

    short: str
    name: str
    collected: int = 0
    paying_members: int = 0
    #: Expense account (code, name) -> cents spent.
    spent: Counter = field(default_factory=Counter)
    nights_covered: int = 0
    nights: int = 0
    #: Incident category value -> count.
    incidents: Counter = field(default_factory=Counter)
    meetings: int = 0
    present: int = 0
    women: int = 0
    men: int = 0
    other_gender: int = 0
    youth: int = 0
    #: Compliance check state (ok, due, missing) -> count.
    compliance: Counter = field(default_factory=Counter)
    set_up: bool = True
    #: False when its database could not be read (the figures are then none, not zero).
    reachable: bool = True

    @property
    def spent_total(self) -> int:
        return sum(self.spent.values())

    def add(self, other: "Figures") -> None:
        for name in ("collected", "paying_members", "nights_covered", "nights", "meetings",
                     "present", "women", "men", "other_gender", "youth"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.spent.update(other.spent)
        self.incidents.update(other.incidents)
        self.compliance.update(other.compliance)


def parse_period(start_text: str | None, end_text: str | None) -> Period:
    """From and to of the request; by default the calendar year to date (associations'
    financial years differ).

    Raises:
        ReportError: a bad date, or the start after the end.
    """
    end = parse_date(end_text, _("To")) or today_in_nairobi()
    start = parse_date(start_text, _("From")) or date(end.year, 1, 1)
    if start > end:
        raise ReportError(_l("The period starts after it ends: choose a 'from' date on or "
                             "before the 'to' date."))
    return Period(start, end)


def choose(shorts_text: str | None) -> list[Tenant]:
    """The associations a programme names (MLK,KBF), or every one served.

    Raises:
        HostingError: a name no association has.
    """
    served = catalogue.served()
    names = [s for s in (shorts_text or "").upper().replace(" ", ",").split(",") if s]
    if not names:
        return served
    by_short = {t.short: t for t in served}
    unknown = [name for name in names if name not in by_short]
    if unknown:
        raise HostingError(_l("No association is called %(short)s.", short=", ".join(unknown)))
    return [by_short[name] for name in dict.fromkeys(names)]


def figures_of(app: Flask, tenant: Tenant, period: Period) -> Figures:

    figures = Figures(tenant.short, tenant.name)
    try:
        _read_figures(app, tenant, period, figures)
    except sa.exc.SQLAlchemyError:  # its database away: its row says so, the others stand
        figures = Figures(tenant.short, tenant.name, set_up=False, reachable=False)
    return figures


def _read_figures(app: Flask, tenant: Tenant, period: Period, figures: Figures) -> None:
    from association.extensions import db
    from association.ledger.models import Payment, Receipt
    from association.ledger.reports import collections, income_expenditure
    from association.meetings.governance import compliance
    from association.meetings.models import Meeting
    from association.meetings.quorum import attendance_counts
    from association.patrols.public import public_summary
    from association.profile.services import get_profile

    with use(tenant, app):
        figures.collected = collections(period).figures["total"]
        figures.paying_members = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Payment.member_id)))
            .join(Receipt, Receipt.payment_id == Payment.id)
            .where(Receipt.voided_at.is_(None), Payment.paid_on >= period.start,
                   Payment.paid_on <= period.end)) or 0
        for table in income_expenditure(period).tables[1:]:  # expenditure, by account
            for code, name, amount in table.rows:
                if amount:
                    figures.spent[(code, str(name))] += amount
        patrols = public_summary(period.start, period.end)
        figures.nights_covered, figures.nights = patrols["nights_covered"], patrols["nights"]
        for (_zone, category), count in patrols["incidents"].items():
            figures.incidents[category] += count
        for meeting in db.session.scalars(sa.select(Meeting).where(
                Meeting.held_on >= period.start, Meeting.held_on <= period.end)):
            counts = attendance_counts(meeting)
            figures.meetings += 1
            figures.present += counts.total
            figures.women += counts.women
            figures.men += counts.men
            figures.other_gender += counts.other + counts.unknown
            figures.youth += counts.youth
        figures.set_up = get_profile() is not None
        if figures.set_up:
            figures.compliance.update(check.state for check in compliance(period.end))
        db.session.rollback()


def report(app: Flask, tenants: list[Tenant], period: Period) -> tuple[list[Figures], Figures]:
    rows = [figures_of(app, tenant, period) for tenant in tenants]
    total = Figures("", _("Total"))
    for row in rows:
        total.add(row)
    return rows, total


def to_csv(rows: list[Figures], total: Figures, period: Period) -> str:
    """The report as a spreadsheet: one row per association and the total; one column per
    figure (expense accounts and incident categories as found)."""
    from association.i18n import enum_label
    from association.patrols.models import IncidentCategory

    accounts = sorted({key for row in rows for key in row.spent})
    categories = sorted({key for row in rows for key in row.incidents})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("From"), period.start.isoformat(), _("To"), period.end.isoformat()])
    writer.writerow([
        _("Association"), _("Name"), _("Collected (KES)"), _("Paying members"),
        *[f"{_('Spent (KES)')}: {code} {name}" for code, name in accounts],
        _("Total spent (KES)"), _("Patrol nights covered"), _("Patrol nights"),
        *[f"{_('Incidents')}: {enum_label(IncidentCategory(c))}" for c in categories],
        _("Meetings held"), _("Members present"), _("Women"), _("Men"),
        _("Other or not recorded"), _("Youth (18-35)"), _("Compliance: in order"),
        _("Compliance: due"), _("Compliance: missing")])
    for row in [*rows, total]:
        writer.writerow([
            row.short, formula_safe(row.name), f"{row.collected / 100:.2f}", row.paying_members,
            *[f"{row.spent.get(key, 0) / 100:.2f}" for key in accounts],
            f"{row.spent_total / 100:.2f}", row.nights_covered, row.nights,
            *[row.incidents.get(c, 0) for c in categories],
            row.meetings, row.present, row.women, row.men, row.other_gender, row.youth,
            row.compliance.get("ok", 0), row.compliance.get("due", 0),
            row.compliance.get("missing", 0)])
    return out.getvalue()
