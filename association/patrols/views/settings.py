"""The patrol settings: the stipend for a shift, each zone's minimum and maximum per
shift, and the shift times (templates) each zone holds on each night of the week.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from association import transaction
from association.auth.permissions import permission_required
from association.core.money import format_kes, to_cents
from association.errors import DomainError
from association.extensions import db
from association.members.models import Zone
from association.patrols import forms, shifts, stipends, zones
from association.patrols.models import PatrolZone
from association.patrols.views import bp
from association.patrols.views.helpers import template_or_404
from association.web import flash_form_errors


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("patrols.manage")
def settings():
    """The stipend rate and every zone's patrol settings."""
    row = stipends.settings()
    form = forms.StipendRateForm()
    if form.validate_on_submit():
        try:
            stipends.set_stipend_rate(to_cents(form.stipend.data, allow_zero=True))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The stipend is now %(amount)s a shift.", amount=format_kes(
                row.stipend_cents)), "success")
            return redirect(url_for("patrols.settings"))
    elif request.method == "GET":
        form.stipend.data = f"{row.stipend_cents / 100:.2f}"
    return render_template("patrols/settings.html", form=form,
                           zones=zones.zone_settings(), templates=shifts.templates(),
                           weekday_name=shifts.weekday_name)


@bp.route("/zones/<int:zone_id>", methods=["GET", "POST"])
@permission_required("patrols.manage")
def zone(zone_id: int):
    """A zone's minimum and maximum per shift, and its shift times."""
    zone_row = db.get_or_404(Zone, zone_id)
    pz = db.session.get(PatrolZone, zone_id)
    form = forms.ZoneSettingsForm(obj=pz) if request.method == "GET" else \
        forms.ZoneSettingsForm()
    if request.method == "GET" and pz is None:
        form.min_per_shift.data = 2
    if form.validate_on_submit():
        try:
            zones.save_zone_settings(zone_row, form.min_per_shift.data,
                                        form.max_per_shift.data, form.active.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(zone)s is saved.", zone=zone_row.name), "success")
            return redirect(url_for("patrols.zone", zone_id=zone_id))
    return render_template("patrols/zone.html", zone=zone_row, form=form,
                           template_form=forms.TemplateForm(formdata=None),
                           retire_form=forms.ConfirmForm(),
                           templates=shifts.templates(zone_id),
                           volunteers=zones.zone_volunteers(zone_id),
                           weekday_name=shifts.weekday_name)


@bp.route("/zones/<int:zone_id>/shifts", methods=["POST"])
@permission_required("patrols.manage")
def template_add(zone_id: int):
    """Add a shift time to a zone on the chosen nights."""
    zone_row = db.get_or_404(Zone, zone_id)
    form = forms.TemplateForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("patrols.zone", zone_id=zone_id))
    try:
        made = shifts.add_templates(zone_row, [int(d) for d in form.weekdays.data],
                                      form.start_time.data, form.end_time.data)
    except (DomainError, ValueError) as error:
        transaction.discard()
        flash(str(error) if isinstance(error, DomainError) else _("Not a valid choice."),
              "error")
        return redirect(url_for("patrols.zone", zone_id=zone_id))
    flash(ngettext("%(num)d shift added.", "%(num)d shifts added.", len(made)), "success")
    return redirect(url_for("patrols.zone", zone_id=zone_id))


@bp.route("/templates/<int:template_id>/retire", methods=["POST"])
@permission_required("patrols.manage")
def template_retire(template_id: int):
    """Stop using a shift time; shifts already on the roster stay."""
    template = template_or_404(template_id)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        shifts.retire_template(template)
        flash(_("The shift is no longer used. Regenerate the roster to take it off."),
              "success")
    else:
        flash_form_errors(form)
    return redirect(url_for("patrols.zone", zone_id=template.zone_id))
