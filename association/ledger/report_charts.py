"""The charts above the reports: money in and out by month and by account (income and
expenditure), and dues collected against dues charged, month by month (collections).

Each figure comes from the same functions as the report's tables, so the picture and the
table cannot disagree.
"""

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from association.core import dates
from association.core.charts import Chart, bar_chart
from association.core.time import add_months, month_end, month_start
from association.extensions import db
from association.ledger.models import DuesCharge
from association.ledger.reports import Period, Report, income_expenditure

#: At most this many months are drawn (the last ones of a longer period).
MAX_MONTHS = 12


def months_of(period: Period) -> list[date]:
    """The first days of the months the period touches, the last :data:`MAX_MONTHS`."""
    months, month = [], month_start(period.start)
    while month <= period.end:
        months.append(month)
        month = add_months(month, 1)
    return months[-MAX_MONTHS:]


def income_expenditure_charts(period: Period, report: Report) -> list[Chart]:
    """Income and expenditure month by month, then each by account, for ``period``."""
    months = months_of(period)
    figures = [income_expenditure(Period(max(m, period.start), min(month_end(m), period.end)))
               .figures for m in months]
    income, expenses = report.tables[0], report.tables[1]
    return [
        bar_chart("ie-by-month", _("Money in and out, by month"),
                  [dates.month(m) for m in months],
                  [(_("Income"), [f["income"] for f in figures]),
                   (_("Expenditure"), [f["expenditure"] for f in figures])], money=True,
                  summary=_("Income and expenditure each month, in KES.")),
        bar_chart("ie-income", _("Income, by account"),
                  [row[1] for row in income.rows if row[2]],
                  [(_("Income"), [row[2] for row in income.rows if row[2]])], money=True,
                  summary=_("Income of the period by account, in KES.")),
        bar_chart("ie-expenditure", _("Expenditure, by account"),
                  [row[1] for row in expenses.rows if row[2]],
                  [(_("Expenditure"), [row[2] for row in expenses.rows if row[2]])],
                  money=True, summary=_("Expenditure of the period by account, in KES.")),
    ]


def dues_by_month(period: Period) -> list[tuple[date, int, int]]:
    """(month, dues charged, of which paid) for each month of the period with charges.

    Paid is what payments and credit have settled of that month's charges so far.
    """
    rows = db.session.execute(
        sa.select(DuesCharge.month, sa.func.sum(DuesCharge.amount_cents),
                  sa.func.sum(DuesCharge.amount_cents - DuesCharge.open_cents))
        .where(DuesCharge.month >= month_start(period.start),
               DuesCharge.month <= period.end)
        .group_by(DuesCharge.month).order_by(DuesCharge.month))
    return [(month, int(charged), int(paid)) for month, charged, paid in rows][-MAX_MONTHS:]


def dues_chart(period: Period) -> Chart:
    """Dues charged and dues paid, month by month."""
    rows = dues_by_month(period)
    return bar_chart(
        "dues-charged-paid", _("Dues collected against dues charged"),
        [dates.month(month) for month, _c, _p in rows],
        [(_("Charged"), [charged for _m, charged, _p in rows]),
         (_("Collected"), [paid for _m, _c, paid in rows])], money=True,
        summary=_("For each month, the dues charged to members and how much of them has "
                  "been paid, in KES."))


def collections_charts(period: Period, report: Report) -> list[Chart]:
    """Dues collected against charged, and money received by month (voided receipts left
    out, as in the report)."""
    by_month = report.tables[0].rows
    return [
        dues_chart(period),
        bar_chart("collections-by-month", _("Money received, by month"),
                  [dates.month(row[0]) for row in by_month],
                  [(_("Total"), [row[5] for row in by_month])], money=True,
                  summary=_("Money received from members each month, in KES.")),
    ]
