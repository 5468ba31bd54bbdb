"""The public transparency page and its monthly PDF: the association's money, patrols
and decisions, in aggregate only."""

from datetime import date

from flask import abort, render_template

from association.auth.permissions import public
from association.core.time import MonthError, parse_month, today_in_nairobi
from association.meetings import pdf
from association.meetings import transparency as figures
from association.meetings.views.base import bp, pdf_response, requested_language


@bp.route("/transparency")
@public
def transparency():
    """Public: the association's money, patrols and decisions, in aggregate only."""
    return render_template("meetings/transparency.html",
                           summaries=figures.summaries())


@bp.route("/transparency/<month>.pdf")
@public
def transparency_pdf(month: str):
    """Public: one page of the month's summary, for WhatsApp or the noticeboard."""
    try:
        start = parse_month(month)
    except MonthError:
        abort(404)
    if start > today_in_nairobi() or start < date(2000, 1, 1):
        abort(404)
    summary = figures.month_summary(start)
    return pdf_response(pdf.transparency_pdf(summary, requested_language()),
                        f"transparency-{start.strftime('%Y-%m')}.pdf")
