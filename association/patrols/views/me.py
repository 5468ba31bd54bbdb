"""A patroller's own page: their shifts, availability and away dates, offering and
taking shifts, and their calendar feed (public, keyed by a secret in its address).
"""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import login_only, public
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.members.services import list_zones
from association.patrols import forms, patrollers, swaps
from association.patrols.ical import feed
from association.patrols.models import Patroller, Swap, SwapStatus
from association.patrols.views import bp
from association.patrols.views.helpers import association_name
from association.patrols.views.patrollers import availability_from_form, patroller_page
from association.web import flash_form_errors


def _own_patroller() -> Patroller | None:
    return patrollers.patroller_of(current_user)


@bp.route("/me", methods=["GET"])
@login_only
def me():
    """My shifts, my availability and away dates, shifts offered by others, my calendar."""
    p = _own_patroller()
    if p is None:
        return render_template("patrols/not_patroller.html")
    return patroller_page("patrols/me.html", p, forms.AvailabilityForm(), own=True)


def _own_or_404() -> Patroller:
    p = _own_patroller()
    if p is None:
        abort(404)
    return p


@bp.route("/me/availability", methods=["POST"])
@login_only
def me_availability():
    """Change the nights and zones I can patrol."""
    p = _own_or_404()
    form = forms.AvailabilityForm()
    if form.validate_on_submit():
        try:
            patrollers.set_availability(p, availability_from_form(list_zones()))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Your availability is saved. It counts from the next roster."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/away", methods=["POST"])
@login_only
def me_away():
    """Tell the coordinator which nights I am away."""
    p = _own_or_404()
    form = forms.AwayForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        patrollers.add_away(p, form.start_date.data, form.end_date.data, form.reason.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Saved. If you are on the roster on those nights, offer the shifts to others "
                "or tell the coordinator."), "success")
    return redirect(url_for("patrols.me"))


@bp.route("/me/away/<int:away_id>/remove", methods=["POST"])
@login_only
def me_away_remove(away_id: int):
    """Delete one of my away periods."""
    p = _own_or_404()
    if not any(a.id == away_id for a in p.away):
        abort(404)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        patrollers.remove_away(p, away_id)
        flash(_("Removed."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/shifts/<int:assignment_id>/offer", methods=["POST"])
@login_only
def me_offer(assignment_id: int):
    """Offer one of my shifts to the other patrollers."""
    p = _own_or_404()
    assignment = swaps.assignment_of(p, assignment_id)
    if assignment is None:
        abort(404)
    form = forms.OfferForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        swaps.offer_shift(p, assignment, form.note.data)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Your shift is offered. You stay on it until someone takes it."), "success")
    return redirect(url_for("patrols.me"))


@bp.route("/me/offers/<int:swap_id>/take", methods=["POST"])
@login_only
def me_take(swap_id: int):
    """Take a shift another patroller offered."""
    p = _own_or_404()
    swap = db.session.get(Swap, swap_id)
    if swap is None or swap.status != SwapStatus.OFFERED:
        abort(404)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.me"))
    try:
        swap = swaps.take_offer(p, swap)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("patrols.me"))
    if swap.status == SwapStatus.APPROVED:
        flash(_("The shift is yours."), "success")
    else:
        flash(_("The coordinator must approve this swap: %(why)s", why=swap.problems),
              "warning")
    return redirect(url_for("patrols.me"))


@bp.route("/me/offers/<int:swap_id>/cancel", methods=["POST"])
@login_only
def me_cancel(swap_id: int):
    """Withdraw my offer."""
    p = _own_or_404()
    swap = db.session.get(Swap, swap_id)
    if swap is None or swap.offered_by_id != p.id:
        abort(404)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            swaps.cancel_offer(p, swap)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Your offer is withdrawn."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/me/calendar/new", methods=["POST"])
@login_only
def me_calendar_new():
    """A new secret calendar address; the old one stops working."""
    p = _own_or_404()
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        patrollers.regenerate_token(p)
        flash(_("Your calendar has a new address. Subscribe to it again on your phone."),
              "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.me"))


@bp.route("/calendar/<token>.ics")
@public
def calendar(token: str):
    """A patroller's shifts as an iCalendar feed; the secret in the address is the key."""
    p = patrollers.patroller_by_token(token)
    if p is None:
        abort(404)
    language = "sw" if request.args.get("lang") == "sw" else "en"
    data = feed(p, association_name(), request.host, language, today_in_nairobi())
    return Response(data, mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="patrol-shifts.ics"',
        "Cache-Control": "private, max-age=900", "Referrer-Policy": "no-referrer"})
