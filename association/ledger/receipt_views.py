"""Receipts: the receipt page, its PDF and SMS text, voiding, and the public check page."""

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from association import transaction
from association.auth.permissions import login_only, permission_required, public
from association.errors import DomainError
from association.extensions import limiter
from association.forms import BaseForm
from association.i18n import current_language
from association.ledger import payments, receipt_pdf, receipts
from association.web import flash_form_errors

bp = Blueprint("receipts", __name__)

#: The public check page answers this often per address: enough for a person, not a scraper.
VERIFY_RATE_LIMIT = "30 per minute;300 per hour"


class VoidForm(BaseForm):
    reason = TextAreaField(
        _l("Reason for voiding"),
        validators=[DataRequired(_l("Give the reason for voiding the receipt.")),
                    Length(max=300)],
    )


def _receipt_or_404(number: str):
    receipt = receipts.receipt_for(current_user, number)
    if receipt is None:
        abort(404)
    return receipt


def _no_store(response):
    """Receipts carry a member's name: keep no copy in shared caches."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/receipts/<number>")
@login_only
def detail(number: str):
    """One receipt (officials who read the books, or the member it belongs to): the
    officials' instructions (printing, the SMS to send, voiding) are for officials only."""
    receipt = _receipt_or_404(number)
    facts = receipts.receipt_facts(receipt)
    language = current_language()
    official = current_user.can("ledger.view")
    return _no_store(make_response(render_template(
        "receipts/detail.html",
        receipt=receipt,
        facts=facts,
        months=receipts.months_text(facts, language),
        words=receipts.amount_in_words(facts.amount_cents, language),
        method=receipts.method_label(facts.method),
        official=official,
        sms=receipts.receipt_sms(facts, language) if official else "",
        void_form=VoidForm(),
    )))


@bp.route("/receipts/<number>.pdf")
@login_only
def pdf(number: str):
    """The receipt as a PDF: A5 (?layout=a5) or an 80 mm thermal roll (?layout=roll)."""
    layout = request.args.get("layout", "a5")
    if layout not in receipt_pdf.LAYOUTS:
        abort(400)
    receipt = _receipt_or_404(number)
    content = receipt_pdf.render_receipt_pdf(receipt, layout, current_language())
    response = make_response(content)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{receipt.number}.pdf"'
    return _no_store(response)


@bp.route("/receipts/<number>.txt")
@login_only
def sms(number: str):
    """The short SMS text of the receipt, as plain text."""
    receipt = _receipt_or_404(number)
    response = make_response(receipts.receipt_sms(receipt, current_language()))
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return _no_store(response)


@bp.route("/receipts/<number>/void", methods=["POST"])
@permission_required("ledger.record")
def void(number: str):
    """Void a receipt with a reason: its payment is reversed, its number stays in the register."""
    receipt = _receipt_or_404(number)
    form = VoidForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("receipts.detail", number=receipt.number))
    try:
        payments.void_receipt(receipt, form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Receipt %(number)s is void. Its payment has been reversed.",
                number=receipt.number), "success")
    return redirect(url_for("receipts.detail", number=receipt.number))


@bp.route("/verify/<number>")
@public
@limiter.limit(VERIFY_RATE_LIMIT)
def verify(number: str):
    """Public: is this receipt genuine? Shows only its number, date, amount and status."""
    receipt = receipts.verify(number, request.args.get("c"))
    if receipt is None:
        return render_template("receipts/verify.html", facts=None), 404
    facts = receipts.facts_for([receipt.id])[0]  # not the member's standing: never shown here
    shown = {"number": facts.number, "issued_on": facts.issued_on,
             "amount_cents": facts.amount_cents, "is_void": facts.is_void}
    response = make_response(render_template("receipts/verify.html", facts=shown))
    response.headers["Cache-Control"] = "no-store"  # a void must show at once
    response.headers["X-Robots-Tag"] = "noindex"
    return response
