"""The month close report: what the books show for a closed month, and the keyed audit
checkpoint made as it was closed, on one page the treasurer prints for the committee
and the auditor.

Every figure comes from the report builders in ``reports`` (income and expenditure,
the receipts register, the cash books, the statement of financial position, the trial
balance), so the close report never disagrees with them.
"""

from dataclasses import dataclass

from flask_babel import format_date
from flask_babel import gettext as _

from association.audit.checkpoints import checkpoints_labelled, refused_labels
from association.audit.models import AuditCheckpoint
from association.core import dates
from association.core.money import format_kes
from association.core.time import month_end
from association.extensions import db
from association.ledger import exports, reports
from association.ledger.accounts import account
from association.ledger.models import ClosedMonth
from association.ledger.periods import close_label
from association.ledger.reports import MONEY, TEXT, Column, Report, Table

#: The cash books shown at month end.
BALANCE_BOOKS = ("cash", "mpesa", "bank")


@dataclass
class CloseReport:
    closed: ClosedMonth
    report: Report
    #: The checkpoint made at this close; None for closes made before checkpoints were.
    checkpoint: AuditCheckpoint | None
    #: No checkpoint because the trail failed its check at the close (it was not signed).
    refused: bool = False


def _who(user) -> str:
    return user.full_name if user is not None else _("System")


def close_report(close_id: int) -> CloseReport | None:
    """The report of one close of a month, in the reader's language.

    Args:
        close_id: the id of the ``ClosedMonth`` row (each close of a month has its own).

    Returns:
        The report, or None when there is no such close.
    """
    closed = db.session.get(ClosedMonth, close_id)
    if closed is None:
        return None
    from association.profile.services import get_profile

    profile = get_profile()
    period = reports.Period(closed.month, month_end(closed.month))
    month_name = format_date(closed.month, "MMMM y")
    income = reports.income_expenditure(period)
    issued = reports.receipts_register(period)
    books = {key: reports.cash_book(key, period) for key in BALANCE_BOOKS}
    position = reports.financial_position(period.end)
    trial = reports.trial_balance_report(period.end)

    report = Report("month-close", _("Month close report: %(month)s", month=month_name),
                    reports.period_label(period))
    report.facts = [
        (_("Association"), profile.name if profile else ""),
        (_("Month"), month_name),
        (_("Closed by"), _who(closed.closed_by)),
        (_("Closed on"), dates.moment(closed.closed_at)),
    ]
    if closed.reopened_at is None:
        report.facts.append((_("Status"), _("Closed")))
    else:
        report.facts.append((_("Status"), _(
            "Reopened by %(who)s on %(when)s: %(reason)s", who=_who(closed.reopened_by),
            when=dates.moment(closed.reopened_at),
            reason=closed.reopen_reason or "")))
    report.notes.append(_("The figures are the month's as the books show them when this "
                          "report is printed; the audit checkpoint is the audit trail as it "
                          "stood when the month was closed."))

    ie = income.figures
    surplus = ie["surplus"]
    report.tables.append(Table(
        [Column(""), Column(_("Amount"), MONEY)],
        [[_("Total income"), ie["income"]], [_("Total expenditure"), ie["expenditure"]],
         [_("Surplus for the period") if surplus >= 0 else _("Deficit for the period"),
          abs(surplus)]],
        _("Income and expenditure"),
    ))

    rf = issued.figures
    none = _("none")
    report.tables.append(Table(
        [Column(""), Column("", TEXT)],
        [[_("Receipts issued"), str(rf["count"])],
         [_("First number"), rf["first"] or none],
         [_("Last number"), rf["last"] or none],
         [_("Of which voided"), str(rf["void_count"])],
         [_("Valid receipts total"), format_kes(rf["valid"])],
         [_("Numbering has no gaps"), _("Yes") if rf["gapless"] else _("No")]],
        _("Receipts issued in the month"),
    ))

    rows = []
    for key, book in books.items():
        f = book.figures
        rows.append([reports.account_name(account(key)), f["opening"], f["in"], f["out"],
                     f["closing"]])
    rows.append([_("Total assets"), None, None, None, position.figures["assets"]])
    report.tables.append(Table(
        [Column(_("Account")), Column(_("Opening balance"), MONEY), Column(_("Money in"), MONEY),
         Column(_("Money out"), MONEY), Column(_("Closing balance"), MONEY)],
        rows, _("Balances at month end"),
    ))

    tf = trial.figures
    report.tables.append(Table(
        [Column(""), Column(_("Amount"), MONEY)],
        [[_("Total debits"), tf["debit"]], [_("Total credits"), tf["credit"]],
         [_("Debits equal credits"), _("Yes") if tf["difference"] == 0 else _("No")]],
        _("Trial balance at month end"),
    ))
    report.figures = {"income": ie, "receipts": rf,
                      "balances": {key: book.figures for key, book in books.items()},
                      "assets": position.figures["assets"], "trial_balance": tf}
    label = close_label(closed)
    checkpoint = checkpoints_labelled([label]).get(label)
    return CloseReport(closed, report, checkpoint, label in refused_labels([label]))


def close_report_pdf(data: CloseReport) -> bytes:
    """The close report as an A4 PDF: the figures, then the checkpoint in full, how to
    check it, and its QR code."""

    def checkpoint(pdf) -> None:
        pdf.y -= 6
        pdf.paragraph(_("Audit checkpoint at the close"), bold=True, size=9.5)
        if data.checkpoint is None and data.refused:
            pdf.paragraph(_("No audit checkpoint was made at this close: the audit trail "
                            "failed its check, so the app did not sign it. Run a full "
                            "verification on the Audit page."))
            return
        if data.checkpoint is None:
            pdf.paragraph(_("No audit checkpoint was kept for this close: it was made before "
                            "the app kept checkpoints."))
            return
        value = data.checkpoint.value
        pdf.monospace(value)
        pdf.paragraph(_("Made on %(when)s, at audit event %(seq)d.",
                        when=dates.moment(data.checkpoint.made_at),
                        seq=data.checkpoint.seq), size=7.5)
        pdf.paragraph(_("Keep this page. To check that the books have not been rewritten "
                        "since this close, run on the server: flask audit verify --checkpoint "
                        "VALUE, where VALUE is the line above (also in the QR code)."))
        pdf.qr(value, 130)

    return exports.report_pdf(data.report, after=checkpoint)
