"""The treasurer's M-Pesa desk: pasted SMS, statement imports and the suspense queue."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import selectinload

from association import transaction
from association.auth.permissions import permission_required
from association.core.money import format_kes
from association.errors import DomainError
from association.extensions import db
from association.ledger.models import Payment
from association.mpesa import import_parsing, imports
from association.mpesa import suspense as suspense_service
from association.mpesa.import_forms import (
    AssignForm,
    ConfirmForm,
    QueueFilterForm,
    RefundForm,
    RefundSentForm,
    SmsForm,
    StatementForm,
    UndoAssignForm,
)
from association.mpesa.matching import MatchedBy
from association.mpesa.models import MpesaTransaction, TransactionStatus
from association.web import flash_form_errors

bp = Blueprint("mpesa_imports", __name__)

#: What the preview says about how each member was found.
MATCHED_BY = {
    MatchedBy.ACCOUNT_NUMBER: "account_number",
    MatchedBy.ACCOUNT_PHONE: "account_phone",
    MatchedBy.PAYER_PHONE: "payer_phone",
    MatchedBy.PAYER_HASH: "payer_hash",
}


# --- Pasted SMS and statements ---------------------------------------------------------


def _stage_and_preview(parsed: import_parsing.Parsed):
    token = imports.stage(parsed, current_user.id)
    return redirect(url_for("mpesa_imports.preview", token=token))


@bp.route("/mpesa/imports/sms", methods=["GET", "POST"])
@permission_required("mpesa.manage")
def sms():
    """Paste M-Pesa confirmation messages; a preview follows, nothing is written yet."""
    form = SmsForm()
    if form.validate_on_submit():
        try:
            return _stage_and_preview(import_parsing.parse_sms(form.text.data))
        except import_parsing.ImportFileError as error:
            form.text.errors = [str(error)]
            flash(str(error), "error")
    return render_template("mpesa/imports_sms.html", form=form)


@bp.route("/mpesa/imports/statement", methods=["GET", "POST"])
@permission_required("mpesa.manage")
def statement():
    """Upload an M-Pesa statement (CSV or Excel); a preview follows, nothing is written yet."""
    form = StatementForm()
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", None):
            form.file.errors = [_("Choose the statement file to upload.")]
            flash(form.file.errors[0], "error")
        else:
            try:
                return _stage_and_preview(
                    import_parsing.parse_statement(upload.filename, upload.read()))
            except import_parsing.ImportFileError as error:
                form.file.errors = [str(error)]
                flash(str(error), "error")
    return render_template("mpesa/imports_statement.html", form=form)


def _preview_page(token: str, preview: imports.Preview, form: ConfirmForm | None = None,
                  status: int = 200):
    form = form or ConfirmForm(formdata=None)
    form.expect.data = preview.expect
    return render_template(
        "mpesa/imports_preview.html", token=token, preview=preview, form=form,
        matched_by=MATCHED_BY, batch=imports.BATCH_ROWS,
    ), status


@bp.route("/mpesa/imports/<token>")
@permission_required("mpesa.manage")
def preview(token: str):
    """Each transaction read, its member, and those already in the books."""
    try:
        parsed = imports.load(token, current_user.id)
    except import_parsing.ImportFileError as error:
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.sms"))
    return _preview_page(token, imports.build_preview(parsed))


@bp.route("/mpesa/imports/<token>/confirm", methods=["POST"])
@permission_required("mpesa.manage")
def confirm(token: str):
    """Check the typed member numbers again, or import: every new payment, or none."""
    try:
        parsed = imports.load(token, current_user.id)
    except import_parsing.ImportFileError as error:
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.sms"))
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("mpesa_imports.preview", token=token))
    typed = {item.receipt_code: request.form.get(f"m-{item.receipt_code}", "")
             for item in parsed.items if f"m-{item.receipt_code}" in request.form}
    if form.check.data:
        problems = imports.check_typed(parsed, typed)
        if problems:
            flash(_("Some member numbers need correcting."), "error")
        return _preview_page(token, imports.build_preview(parsed, typed, problems), form)
    try:
        result = imports.confirm(parsed, form.expect.data, typed, current_user.id)
    except imports.ImportRowsError as error:
        transaction.discard()
        flash(str(error), "error")
        return _preview_page(token, imports.build_preview(parsed, typed, error.problems),
                             form, 422)
    except DomainError as error:  # stale (another tab, a callback), or the ledger refused
        transaction.discard()
        flash(str(error), "error")
        return _preview_page(token, imports.build_preview(parsed, typed), form, 409)
    if not result.remaining:  # the staged file goes once the rows are committed
        transaction.after_commit(lambda: imports.discard(token))
    if result.credited + result.suspense or not result.confirmed:
        flash(ngettext(
            "%(num)d M-Pesa payment imported (%(amount)s).",
            "%(num)d M-Pesa payments imported (%(amount)s).",
            result.credited + result.suspense, amount=format_kes(result.total_cents)),
            "success")
    if result.confirmed:
        flash(ngettext("%(num)d payment that was waiting for confirmation is confirmed by this "
                       "import.",
                       "%(num)d payments that were waiting for confirmation are confirmed by "
                       "this import.", result.confirmed), "success")
    if result.credited:
        flash(ngettext("%(num)d is credited to its member, with a receipt.",
                       "%(num)d are credited to their members, with receipts.",
                       result.credited), "success")
    if result.remaining:
        if result.suspense:
            flash(ngettext("%(num)d matches no member and waits in the suspense queue.",
                           "%(num)d match no member and wait in the suspense queue.",
                           result.suspense), "info")
        flash(ngettext("%(num)d more payment remains: check it and import the next part.",
                       "%(num)d more payments remain: check them and import the next part.",
                       result.remaining), "info")
        return redirect(url_for("mpesa_imports.preview", token=token))
    if result.suspense:
        flash(ngettext("%(num)d matches no member and waits in suspense below.",
                       "%(num)d match no member and wait in suspense below.",
                       result.suspense), "info")
        return redirect(url_for("mpesa_imports.suspense"))
    return redirect(url_for("mpesa.index"))


# --- The suspense queue ------------------------------------------------------------------


@bp.route("/mpesa/suspense")
@permission_required("mpesa.view")
def suspense():
    """M-Pesa money that matches no member, oldest first; what was refunded or credited."""
    filters = QueueFilterForm(request.args)
    queue = filters.queue.data if filters.validate() and filters.queue.data in \
        suspense_service.QUEUES else "suspense"
    q = filters.q.data if not filters.q.errors else ""
    page = db.paginate(
        suspense_service.queue_query(queue, q).options(
            selectinload(MpesaTransaction.member),
            selectinload(MpesaTransaction.payment).selectinload(Payment.receipt)),
        per_page=50, max_per_page=100, error_out=False,
    )
    hints = suspense_service.suggestions(page.items) if queue == "suspense" else {}
    members = suspense_service.suggested_members(hints)
    return render_template(
        "mpesa/suspense.html", page=page, queue=queue, filters=filters, hints=hints,
        members=members, names=suspense_service.decided_by_names(page.items),
        totals=suspense_service.queue_totals(queue),
        assign_form=AssignForm(formdata=None), refund_form=RefundForm(formdata=None),
        sent_form=RefundSentForm(formdata=None), undo_form=UndoAssignForm(formdata=None),
        TransactionStatus=TransactionStatus,
    )


def _waiting_or_404(tx_id: int) -> MpesaTransaction:
    return db.get_or_404(MpesaTransaction, tx_id)


@bp.route("/mpesa/suspense/<int:tx_id>/assign", methods=["POST"])
@permission_required("mpesa.manage")
def assign(tx_id: int):
    """Credit a suspense payment to a member: a ledger payment with its receipt."""
    tx = _waiting_or_404(tx_id)
    form = AssignForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("mpesa_imports.suspense", _anchor=f"tx-{tx.id}"))
    try:
        member = suspense_service.find_member(form.member.data)
        tx = suspense_service.assign(tx.id, member, current_user.id, form.note.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.suspense", _anchor=f"tx-{tx_id}"))
    receipt = tx.payment.receipt.number if tx.payment and tx.payment.receipt else ""
    if tx.member_id != member.id:
        flash(_("%(code)s was already in the books as a payment from %(member)s (receipt "
                "%(receipt)s); it is now linked to that payment, not to %(chosen)s.",
                code=tx.receipt_code, member=f"{tx.member.member_no} {tx.member.full_name}",
                receipt=receipt, chosen=member.member_no), "info")
    else:
        flash(_("%(code)s (%(amount)s) is credited to %(member)s. Receipt %(receipt)s.",
                code=tx.receipt_code, amount=format_kes(tx.amount_cents),
                member=f"{member.member_no} {member.full_name}", receipt=receipt), "success")
    return redirect(url_for("mpesa_imports.suspense"))


@bp.route("/mpesa/suspense/<int:tx_id>/refund", methods=["POST"])
@permission_required("mpesa.manage")
def refund(tx_id: int):
    """Take a suspense payment out of the queue, to be sent back, with the reason."""
    tx = _waiting_or_404(tx_id)
    form = RefundForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("mpesa_imports.suspense", _anchor=f"tx-{tx.id}"))
    try:
        tx = suspense_service.mark_for_refund(tx.id, form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.suspense", _anchor=f"tx-{tx_id}"))
    flash(_("%(code)s (%(amount)s) is marked for refund. Send the money back to the payer by "
            "M-Pesa.", code=tx.receipt_code, amount=format_kes(tx.amount_cents)), "success")
    return redirect(url_for("mpesa_imports.suspense", queue="refund"))


@bp.route("/mpesa/suspense/<int:tx_id>/refund-sent", methods=["POST"])
@permission_required("mpesa.manage")
def refund_sent(tx_id: int):
    """Record the refund sent back by M-Pesa (its code and date): the money leaves the books."""
    tx = _waiting_or_404(tx_id)
    form = RefundSentForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("mpesa_imports.suspense", queue="refund", _anchor=f"tx-{tx.id}"))
    try:
        tx = suspense_service.record_refund_sent(tx.id, form.refund_code.data,
                                                 form.refunded_on.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.suspense", queue="refund", _anchor=f"tx-{tx_id}"))
    flash(_("The refund of %(code)s (%(amount)s) is recorded as sent (%(refund)s).",
            code=tx.receipt_code, amount=format_kes(tx.amount_cents), refund=tx.refund_code),
          "success")
    return redirect(url_for("mpesa_imports.suspense", queue="refunded"))


@bp.route("/mpesa/suspense/<int:tx_id>/undo", methods=["POST"])
@permission_required("mpesa.manage")
def undo(tx_id: int):
    """Undo a wrong assignment: the receipt is voided and the money goes back to suspense."""
    tx = _waiting_or_404(tx_id)
    form = UndoAssignForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("mpesa_imports.suspense", queue="credited",
                                _anchor=f"tx-{tx.id}"))
    receipt = tx.payment.receipt.number if tx.payment and tx.payment.receipt else ""
    try:
        tx = suspense_service.undo_assignment(tx.id, form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("mpesa_imports.suspense", queue="credited",
                                _anchor=f"tx-{tx_id}"))
    flash(_("The assignment of %(code)s is undone: receipt %(receipt)s is void and the money "
            "waits in suspense. Assign it to the right member.",
            code=tx.receipt_code, receipt=receipt), "success")
    return redirect(url_for("mpesa_imports.suspense", _anchor=f"tx-{tx.id}"))
