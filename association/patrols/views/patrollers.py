"""The patrol volunteers as the coordinator sees them: the list, enrolling a member,
one volunteer's page and changing their limits and availability. The page of one
volunteer (:func:`patroller_page`) is also their own page (:mod:`.me`).
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import month_start, now_in_nairobi, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.members.services import MemberNotFoundError, get_member_by_number, list_zones
from association.patrols import forms, roster, swaps
from association.patrols import patrollers as volunteers
from association.patrols.ical import shifts_for
from association.patrols.models import Patroller, Swap, SwapStatus
from association.patrols.shifts import weekday_name
from association.patrols.views import bp
from association.web import flash_form_errors


@bp.route("/patrollers")
@permission_required("patrols.view")
def patrollers():
    """Every patrol volunteer, with their availability and this month's shifts."""
    month = month_start(today_in_nairobi())
    counts: dict = {}
    for a in roster.month_assignments(month):
        counts[a.patroller_id] = counts.get(a.patroller_id, 0) + 1
    return render_template("patrols/patrollers.html", patrollers=volunteers.patrollers(),
                           counts=counts, form=forms.EnrolForm(formdata=None),
                           zones={z.id: z.name for z in list_zones()},
                           weekday_name=weekday_name)


@bp.route("/patrollers/enrol", methods=["POST"])
@permission_required("patrols.manage")
def enrol():
    """Enrol a member as a patrol volunteer."""
    form = forms.EnrolForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.patrollers"))
    try:
        member = get_member_by_number(form.member_no.data)
        patroller = volunteers.enrol(member, form.weekly_limit.data, form.back_to_back.data)
    except (DomainError, MemberNotFoundError) as error:
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("patrols.patrollers"))
    flash(_("%(name)s is enrolled. Now set the nights and zones they can patrol.",
            name=member.full_name), "success")
    return redirect(url_for("patrols.patroller", patroller_id=patroller.id))


def availability_from_form(zones) -> set:
    places = set()
    for weekday in range(7):
        for z in zones:
            if request.form.get(f"w{weekday}z{z.id}"):
                places.add((weekday, z.id))
    return places


@bp.route("/patrollers/<int:patroller_id>")
@permission_required("patrols.view")
def patroller(patroller_id: int):
    """One volunteer: limits, availability, away dates and shifts."""
    p = db.get_or_404(Patroller, patroller_id)
    return patroller_page("patrols/patroller.html", p, forms.PatrollerForm(obj=p), own=False)


@bp.route("/patrollers/<int:patroller_id>/edit", methods=["POST"])
@permission_required("patrols.manage")
def patroller_edit(patroller_id: int):
    """Change a volunteer's limits and the nights and zones they patrol."""
    p = db.get_or_404(Patroller, patroller_id)
    form = forms.PatrollerForm()
    if form.validate_on_submit():
        try:
            volunteers.update_patroller(p, form.active.data, form.weekly_limit.data,
                                      form.back_to_back.data)
            volunteers.set_availability(p, availability_from_form(list_zones()))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Saved."), "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.patroller", patroller_id=p.id))


def patroller_page(template: str, p: Patroller, form, own: bool):
    today = today_in_nairobi()
    shifts = shifts_for(p, today)
    offers = {s.assignment_id: s for s in db.session.scalars(
        db.select(Swap).where(Swap.offered_by_id == p.id,
                              Swap.status.in_((SwapStatus.OFFERED, SwapStatus.PENDING))))}
    return render_template(
        template, p=p, form=form, zones=list_zones(), weekday_name=weekday_name,
        available={(a.weekday, a.zone_id) for a in p.availability},
        upcoming=[a for a in shifts if a.night >= today],
        past=[a for a in shifts if a.night < today][-10:], offers=offers,
        open_offers=swaps.open_offers(p) if own else [],
        away_form=forms.AwayForm(formdata=None), offer_form=forms.OfferForm(formdata=None),
        confirm_form=forms.ConfirmForm(), own=own, now=now_in_nairobi(),
    )
