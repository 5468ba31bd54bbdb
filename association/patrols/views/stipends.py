"""Stipends: what each patroller is owed for a month, the runs sent for approval, their
payout list (PDF), and a second official approving or rejecting them.
"""

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.core.money import format_kes
from association.core.time import month_start, parse_month, today_in_nairobi
from association.errors import DomainError
from association.i18n import current_language
from association.ledger.models import PaymentMethod
from association.patrols import attendance, forms, stipends
from association.patrols.pdf import payout_pdf
from association.patrols.views import bp
from association.patrols.views.helpers import association_name, month_arg
from association.web import flash_form_errors


@bp.route("/stipends")
@permission_required("patrols.stipends")
def stipend_runs():
    """Stipend runs, and what the chosen month's stipends would be."""
    today = today_in_nairobi()
    default = month_start(date.fromordinal(month_start(today).toordinal() - 1))
    month = month_arg(request.args.get("month")) if request.args.get("month") else default
    rate, lines = stipends.preview(month)
    existing = stipends.standing_run(month)
    all_runs = stipends.runs()
    return render_template(
        "patrols/stipends.html", month=month, rate=rate, lines=lines, runs=all_runs,
        existing=existing, statuses=stipends.run_statuses(all_runs),
        total=sum(line.amount_cents for line in lines),
        unrecorded=attendance.unrecorded_shifts(month),
        form=forms.StipendRunForm(formdata=None, month=month.strftime("%Y-%m")),
    )


@bp.route("/stipends/new", methods=["POST"])
@permission_required("patrols.stipends")
def stipend_new():
    """Compute a month's stipends and send them for approval."""
    form = forms.StipendRunForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.stipend_runs"))
    try:
        run = stipends.create_run(parse_month(form.month.data), PaymentMethod(form.method.data),
                                  current_user.id)
    except (DomainError, ValueError) as error:
        transaction.discard()
        flash(str(error) if isinstance(error, DomainError) else _("Not a valid choice."),
              "error")
        return redirect(url_for("patrols.stipend_runs", month=form.month.data[:7]))
    flash(_("Stipends STP-%(id)d (%(amount)s) wait for another official's approval.",
            id=run.id, amount=format_kes(run.total_cents)), "success")
    return redirect(url_for("patrols.stipend_run", run_id=run.id))


def _run_or_404(run_id: int):
    run = stipends.get_run(run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/stipends/<int:run_id>")
@permission_required("patrols.stipends")
def stipend_run(run_id: int):
    """One stipend run: its lines, its expense and its state."""
    run = _run_or_404(run_id)
    return render_template("patrols/stipend.html", run=run, status=stipends.run_status(run),
                           approve_form=forms.ConfirmForm(),
                           reject_form=forms.RejectForm(formdata=None))


@bp.route("/stipends/<int:run_id>/payout.pdf")
@permission_required("patrols.stipends")
def stipend_pdf(run_id: int):
    """The payout list to sign, as a PDF."""
    run = _run_or_404(run_id)
    data = payout_pdf(run, association_name(), current_language())
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="stipends-{run.month:%Y-%m}.pdf"'})


@bp.route("/stipends/<int:run_id>/approve", methods=["POST"])
@permission_required("ledger.expense_approve")
def stipend_approve(run_id: int):
    """A second official approves the stipends: they are posted to the books."""
    run = _run_or_404(run_id)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            stipends.approve_run(run, current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipends are approved and posted to the books."), "success")
    if current_user.can("patrols.stipends"):
        return redirect(url_for("patrols.stipend_run", run_id=run_id))
    return redirect(url_for("expenses.detail", expense_id=run.expense_id))


@bp.route("/stipends/<int:run_id>/reject", methods=["POST"])
@permission_required("ledger.expense_approve")
def stipend_reject(run_id: int):
    """Reject the stipends with a reason; they can be computed again."""
    run = _run_or_404(run_id)
    form = forms.RejectForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            stipends.reject_run(run, current_user.id, form.reason.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipends are rejected."), "success")
    if current_user.can("patrols.stipends"):
        return redirect(url_for("patrols.stipend_run", run_id=run_id))
    return redirect(url_for("expenses.detail", expense_id=run.expense_id))
