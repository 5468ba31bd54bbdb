"""The public transparency page and its monthly PDF: the association's money, patrols
and decisions, in aggregate only."""

from datetime import date

from flask import Response, abort, render_template

from association.auth.permissions import public
from association.core.time import MonthError, parse_month, today_in_nairobi
from association.extensions import limiter
from association.meetings import pdf, share
from association.meetings import transparency as figures
from association.meetings.views.base import bp, pdf_response, requested_language


@bp.route("/transparency")
@public
def transparency():
    """Public: the association's money, patrols and decisions, in aggregate only."""
    summaries = figures.summaries()
    return render_template("meetings/transparency.html", summaries=summaries,
                           by_month=figures.money_by_month_chart(summaries))


#: The month's files are drawn for each request (a picture takes a fraction of a second of
#: the server's time): a bound per address, well above what people sharing them need.
SHARE_RATE_LIMIT = "20 per minute;200 per hour"
#: Browsers and WhatsApp previews may keep a copy a few minutes.
SHARE_CACHE = "public, max-age=300"


def _shared(response: Response) -> Response:
    """A month's file may be kept a few minutes; its language may come from the browser's
    Accept-Language or the cookie (without ?lang=), so a cache must tell those apart."""
    response.headers["Cache-Control"] = SHARE_CACHE
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def _month_or_404(month: str) -> date:
    """The first day of the month written "yyyy-mm"; 404 for anything else, a month in the
    future or one before 2000."""
    try:
        start = parse_month(month)
    except MonthError:
        abort(404)
    if start > today_in_nairobi() or start < date(2000, 1, 1):
        abort(404)
    return start


@bp.route("/transparency/<month>.pdf")
@public
@limiter.limit(SHARE_RATE_LIMIT)
def transparency_pdf(month: str):
    """Public: one page of the month's summary, for WhatsApp or the noticeboard."""
    start = _month_or_404(month)
    summary = figures.month_summary(start)
    response = pdf_response(pdf.transparency_pdf(summary, requested_language()),
                            f"transparency-{start.strftime('%Y-%m')}.pdf")
    return _shared(response)


@bp.route("/transparency/<month>/summary.png")
@public
@limiter.limit(SHARE_RATE_LIMIT)
def transparency_png(month: str):
    """Public: the month's summary as one picture sized for a WhatsApp group."""
    start = _month_or_404(month)
    image = share.summary_png(start, requested_language())
    response = Response(image, mimetype="image/png")
    name = f"transparency-{start:%Y-%m}.png"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _shared(response)


@bp.route("/transparency/<month>/poster.pdf")
@public
@limiter.limit(SHARE_RATE_LIMIT)
def transparency_poster(month: str):
    """Public: the month's summary as an A4 poster for the noticeboard, with a QR code to
    this page."""
    start = _month_or_404(month)
    response = pdf_response(share.poster_pdf(start, requested_language()),
                            f"transparency-poster-{start:%Y-%m}.pdf")
    return _shared(response)
