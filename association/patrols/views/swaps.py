"""The swaps the coordinator decides, and the shifts on offer."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.errors import DomainError
from association.extensions import db
from association.patrols import forms
from association.patrols.models import Swap, SwapStatus
from association.patrols.swaps import decide_swap, open_offers, pending_swaps
from association.patrols.views import bp
from association.web import flash_form_errors


@bp.route("/swaps")
@permission_required("patrols.manage")
def swaps():
    """Swaps waiting for the coordinator, and the shifts on offer."""
    return render_template("patrols/swaps.html", pending=pending_swaps(),
                           offers=open_offers(), form=forms.DecideForm(formdata=None))


@bp.route("/swaps/<int:swap_id>/decide", methods=["POST"])
@permission_required("patrols.manage")
def swap_decide(swap_id: int):
    """Approve or refuse a swap."""
    swap = db.get_or_404(Swap, swap_id)
    form = forms.DecideForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.swaps"))
    try:
        decide_swap(swap, form.decision.data == "approve", current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("The swap is approved.") if swap.status == SwapStatus.APPROVED
              else _("The swap is refused."), "success")
    return redirect(url_for("patrols.swaps"))
