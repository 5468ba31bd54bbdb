"""Reports and the auditor's pack."""

import itertools
import tempfile
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from association.audit.services import log_event
from association.auth.permissions import login_only, permission_required
from association.core import dates
from association.core.money import format_kes
from association.core.time import fiscal_year_start, today_in_nairobi
from association.ledger import auditor_pack as pack
from association.ledger import close_report, exports, report_charts, reports
from association.ledger.reports import DATE, MONEY, MONTH, NUMBER, Link, ReportError
from association.members.services import MemberNotFoundError, get_member_by_number
from association.profile.services import fiscal_year_start_month

bp = Blueprint("reports", __name__)

#: Rows shown on a screen; the files hold every row.
SCREEN_ROWS = 500


class _FileStream:
    """Send a temporary file in pieces and close it, even if the response is never read."""

    def __init__(self, file):
        self.file = file

    def __iter__(self):
        self.file.seek(0)
        while chunk := self.file.read(256 * 1024):
            yield chunk

    def close(self) -> None:
        self.file.close()

    def __del__(self):
        self.file.close()


class _BadRequest(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _format() -> str:
    fmt = request.args.get("format", "html") or "html"
    if fmt not in exports.REPORT_FORMATS:
        raise _BadRequest(_("%(value)s is not a format of the reports: choose html, csv, "
                            "xlsx or pdf.", value=fmt[:20]))
    return fmt


def _period(parse=reports.parse_period) -> reports.Period:
    try:
        return parse(request.args.get("from"), request.args.get("to"))
    except ReportError as error:
        raise _BadRequest(str(error)) from None


def _bad_request(message: str):
    return render_template("reports/index.html", error=message, **_index_context(None)), 400


@bp.errorhandler(_BadRequest)
def _handle_bad_request(error: _BadRequest):
    return _bad_request(error.message)


def _cell_html(value, kind: str, label: str = "") -> str:
    """One cell as HTML: its text and link escaped here, numbers aligned right; its
    column's ``label`` in ``data-label``, shown beside it when a phone stacks the row."""
    href = None
    if isinstance(value, Link):
        if value.endpoint in current_app.view_functions:
            href = url_for(value.endpoint, **value.args)
        value = value.text
    if value is None:
        text = ""
    elif kind == MONEY and isinstance(value, int):
        text = format_kes(value)
    elif kind == DATE and isinstance(value, date):
        text = dates.day(value)
    elif kind == MONTH and isinstance(value, date):
        text = dates.month(value)
    else:
        text = str(value)
    text = escape(text)
    if href is not None:
        text = f'<a href="{escape(href)}">{text}</a>'
    attrs = f' data-label="{escape(label)}"' if label else ""
    if kind in (MONEY, NUMBER):
        return f'<td class="num"{attrs}>{text}</td>'
    return f"<td{attrs}>{text}</td>"


def _row_html(row, columns: list[reports.Column], opening: str = "<tr>") -> Markup:
    """A table row as HTML, built here: a report may have thousands of cells, and the
    template spent several times as long on each. ``_cell_html`` escapes every value."""
    cells = "".join(_cell_html(value, column.kind, str(column.label))
                    for value, column in zip(row, columns, strict=False))
    return Markup(f"{opening}{cells}</tr>")  # noqa: S704 - each value escaped in _cell_html


def _screen_tables(report: reports.Report) -> list[dict]:
    shown = []
    for table in report.tables:
        columns = list(table.columns)
        rows = list(itertools.islice(iter(table.rows), SCREEN_ROWS + 1))
        action = table.row_action if table.action_permission and current_user.can(
            table.action_permission) else None
        totals = table.totals
        if action is not None:
            columns.append(reports.Column(_("Action")))
            rows = [[*row, action(row)] for row in rows]
            totals = None if totals is None else [*totals, ""]
        shown.append({
            "title": table.title,
            "columns": columns,
            "rows": [_row_html(row, columns) for row in rows[:SCREEN_ROWS]],
            "totals": None if totals is None else _row_html(totals, columns, '<tr class="total">'),
            "truncated": len(rows) > SCREEN_ROWS,
        })
    return shown


def _download(report: reports.Report, fmt: str, stem: str):
    """Send the report as a file; the download is written in the audit trail."""
    log_event("export", "report", report.slug, {"format": fmt, "period": report.period})
    pieces = exports.render(report, fmt)
    headers = {
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
        "Cache-Control": "no-store",  # members' names and money: keep no copy in caches
    }
    if fmt == "csv":
        return Response(stream_with_context(pieces), mimetype=exports.MIMETYPES[fmt],
                        headers=headers)
    return Response(b"".join(pieces), mimetype=exports.MIMETYPES[fmt], headers=headers)


def _show(report: reports.Report, period_args: dict, stem: str,
          template: str = "reports/report.html", **context):
    fmt = _format()
    if fmt != "html":
        return _download(report, fmt, stem)
    return render_template(template, report=report, tables=_screen_tables(report),
                           period_args=period_args, endpoint=request.endpoint,
                           view_args=request.view_args or {}, extra_args=context.pop(
                               "extra_args", {}), **context)


def _index_context(period: reports.Period | None) -> dict:
    if period is None:
        today = today_in_nairobi()
        period = reports.Period(fiscal_year_start(today, fiscal_year_start_month()), today)
    return {"period": period, "cash_books": reports.CASH_BOOKS,
            "args": {"from": period.start.isoformat(), "to": period.end.isoformat()}}


@bp.route("/reports")
@permission_required("ledger.view")
def index():
    """The list of reports, for a period chosen at the top."""
    return render_template("reports/index.html", error=None, **_index_context(_period()))


def _args(period: reports.Period, *, at_only: bool = False) -> dict:
    if at_only:
        return {"to": period.end.isoformat()}
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


def _period_report(build, stem: str, *, at_only: bool = False, charts=None):
    """A report of the requested period (or at its end), on screen or as a file.

    Args:
        charts: ``charts(period, report) -> [Chart]`` drawn above the tables on screen.
    """
    period = _period()
    fmt = _format()
    days = f"{period.end}" if at_only else f"{period.start}-{period.end}"
    report = build(period)
    drawn = charts(period, report) if charts is not None and fmt == "html" else []
    return _show(report, _args(period, at_only=at_only), f"{stem}-{days}", charts=drawn)


@bp.route("/reports/trial-balance")
@permission_required("ledger.view")
def trial_balance():
    """The trial balance at a date."""
    return _period_report(lambda p: reports.trial_balance_report(p.end), "trial-balance",
                          at_only=True)


@bp.route("/reports/income-expenditure")
@permission_required("ledger.view")
def income_expenditure():
    """Income and expenditure for a period."""
    return _period_report(reports.income_expenditure, "income-expenditure",
                          charts=report_charts.income_expenditure_charts)


@bp.route("/reports/financial-position")
@permission_required("ledger.view")
def financial_position():
    """The statement of financial position at a date."""
    return _period_report(lambda p: reports.financial_position(p.end), "financial-position",
                          at_only=True)


@bp.route("/reports/cash-book")
@permission_required("ledger.view")
def cash_book():
    """The cash book of cash on hand, M-Pesa or the bank (``?account=``)."""
    period = _period()
    _format()
    key = request.args.get("account", "cash")
    try:
        report = reports.cash_book(key, period)
    except ReportError as error:
        return _bad_request(str(error))
    return _show(report, _args(period), f"cash-book-{key}-{period.start}-{period.end}",
                 extra_args={"account": key})


@bp.route("/reports/arrears")
@permission_required("ledger.view")
def arrears():
    """Members with unpaid dues, by zone and age, as they stand today."""
    _format()
    today = today_in_nairobi()
    report = reports.arrears(today)
    return _show(report, {}, f"arrears-{today}")


@bp.route("/reports/receipts")
@permission_required("ledger.view")
def receipts_register():
    """Every receipt number issued in a period, voided ones included."""
    return _period_report(reports.receipts_register, "receipts-register")


@bp.route("/reports/collections")
@permission_required("ledger.view")
def collections():
    """Money collected by month, zone and category."""
    return _period_report(reports.collections, "collections",
                          charts=report_charts.collections_charts)


@bp.route("/reports/statement")
@permission_required("ledger.view")
def statement_lookup():
    """Open a member's statement by their member number."""
    period = _period(reports.statement_period)
    try:
        member = get_member_by_number(request.args.get("member", ""))
    except MemberNotFoundError as error:
        return _bad_request(str(error))
    return redirect(url_for("reports.statement", member_id=member.id, **_args(period)))


@bp.route("/members/<int:member_id>/statement")
@login_only
def statement(member_id: int):
    """A member's statement: officials may open any, a member only their own."""
    try:
        member = reports.statement_member_for(current_user, member_id)
    except reports.NoStatementAccessError:
        abort(403)
    if member is None:
        abort(404)
    period = _period(reports.statement_period)
    fmt = _format()
    data = reports.member_statement_data(member, period)
    report = reports.statement_report(data)
    stem = f"statement-{member.member_no}-{period.start}-{period.end}"
    if fmt != "html":
        return _download(report, fmt, stem)
    return render_template("reports/statement.html", report=report, data=data,
                           tables=_screen_tables(report), period_args=_args(period),
                           endpoint=request.endpoint, view_args=request.view_args or {},
                           extra_args={})


@bp.route("/reports/month-close/<int:close_id>.pdf")
@permission_required("ledger.view")
def month_close_pdf(close_id: int):
    """The report of one close of a month, with its audit checkpoint, as a PDF to print."""
    data = close_report.close_report(close_id)
    if data is None:
        abort(404)
    month = data.closed.month.strftime("%Y-%m")
    log_event("export", "month_close_report", close_id, {"month": month})
    return Response(close_report.close_report_pdf(data), mimetype=exports.MIMETYPES["pdf"],
                    headers={"Content-Disposition":
                             f'attachment; filename="month-close-{month}-{close_id}.pdf"',
                             "Cache-Control": "no-store"})


@bp.route("/reports/auditor-pack")
@permission_required("ledger.export")
def auditor_pack():
    """One ZIP with every report, the general ledger, the journals and a signed manifest."""
    period = _period()
    who = f"{current_user.full_name} ({current_user.username})"
    target = tempfile.TemporaryFile()  # closed by the response, or below on failure
    try:
        result = pack.auditor_pack(period, who, target)
        log_event("export", "auditor_pack", None, {
            "from": period.start.isoformat(), "to": period.end.isoformat(),
            "files": len(result.files) + 1, "manifest_sha256": result.manifest_sha256,
            "audit_chain_ok": result.chain_ok,
        })
    except BaseException:
        target.close()
        raise
    from association.profile.services import get_profile

    profile = get_profile()
    short = profile.short_code if profile else "books"
    name = f"auditors-pack-{short}-{period.start}-{period.end}.zip"
    response = Response(_FileStream(target), mimetype=exports.MIMETYPES["zip"],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    response.headers["Cache-Control"] = "no-store"
    return response
