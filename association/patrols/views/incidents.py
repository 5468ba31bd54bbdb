"""The incident register: recording and correcting incidents, the register and its
CSV export (both logged), and the counts by month, zone and category that members
see.
"""

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.audit.services import log_event
from association.auth.permissions import login_only, permission_required
from association.core.time import parse_month, today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, enum_choices, enum_label
from association.members.services import list_zones
from association.patrols import forms
from association.patrols import incidents as inc
from association.patrols.models import Incident, IncidentAction, IncidentCategory
from association.patrols.public import incidents_by_month_chart, safe_count
from association.patrols.views import bp


def _incident_data(form) -> inc.IncidentData:
    return inc.IncidentData(
        occurred_at=form.occurred_at.data, zone_id=form.zone_id.data,
        place=form.place.data, category=form.category.data,
        description=form.description.data, actions=form.actions.data or [],
        action_notes=form.action_notes.data, weapon_involved=form.weapon_involved.data,
        sexual_offence=form.sexual_offence.data, police_station=form.police_station.data,
        ob_number=form.ob_number.data, police_officer=form.police_officer.data,
        reporter_name=form.reporter_name.data, reporter_phone=form.reporter_phone.data,
        person_description=form.person_description.data,
    )


def _zone_choices(form_field, blank):
    form_field.choices = choices(((z.id, z.name) for z in list_zones()), blank)


def _filters(form) -> inc.IncidentFilters:
    filters = inc.IncidentFilters()
    if form.validate():
        month = None
        if form.month.data:
            try:
                month = parse_month(form.month.data)
            except DomainError as error:
                form.month.errors = [str(error)]
        category = None
        if form.category.data:
            try:
                category = IncidentCategory(form.category.data)
            except ValueError:
                category = None
        filters = inc.IncidentFilters(zone_id=form.zone_id.data, category=category,
                                      month=month, major_only=bool(form.major.data))
    return filters


@bp.route("/incidents")
@permission_required("incidents.view")
def incidents():
    """The incident register, newest first; major crimes without a police referral flagged."""
    form = forms.IncidentFilterForm(request.args)
    _zone_choices(form.zone_id, _("All zones"))
    form.category.choices = enum_choices(IncidentCategory, _("All categories"))
    page = db.paginate(inc.incident_query(_filters(form)), per_page=50, max_per_page=100,
                       error_out=False)
    log_event("view", "incident_register", None, {"ids": [i.id for i in page.items]})
    return render_template("patrols/incidents.html", page=page, form=form,
                           needs_police=inc.needs_police)


@bp.route("/incidents/new", methods=["GET", "POST"])
@permission_required("incidents.manage")
def incident_new():
    """Record an incident."""
    form = forms.IncidentForm()
    _zone_choices(form.zone_id, _("Choose a zone"))
    if form.validate_on_submit():
        try:
            incident = inc.record_incident(_incident_data(form), current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("Incident INC-%(id)d is recorded.", id=incident.id), "success")
            if incident.major and IncidentAction.TO_POLICE.value not in incident.actions:
                flash(_("This is a major crime: hand it to the police and record the OB "
                        "number."), "warning")
            return redirect(url_for("patrols.incident", incident_id=incident.id))
    return render_template("patrols/incident_form.html", form=form, incident=None)


@bp.route("/incidents/<int:incident_id>")
@permission_required("incidents.view")
def incident(incident_id: int):
    """One incident, with its corrections; who reported it only for the coordinator and
    chair. The view is logged."""
    shows_reporter = current_user.can("incidents.reporter")
    item = inc.view_incident(incident_id, shows_reporter)
    if item is None:
        abort(404)
    return render_template("patrols/incident.html", incident=item,
                           shows_reporter=shows_reporter, needs_police=inc.needs_police(item),
                           IncidentAction=IncidentAction)


@bp.route("/incidents/<int:incident_id>/edit", methods=["GET", "POST"])
@permission_required("incidents.manage")
def incident_edit(incident_id: int):
    """Correct an incident; the earlier version is kept with the reason."""
    item = db.get_or_404(Incident, incident_id)
    if request.method == "GET":
        log_event("view", "incident", item.id, {"reporter_shown": True, "for": "correction"})
        form = forms.IncidentForm(obj=item)
        form.category.data = item.category.value
        form.actions.data = list(item.actions or [])
    else:
        form = forms.IncidentForm()
    _zone_choices(form.zone_id, _("Choose a zone"))
    if form.validate_on_submit():
        try:
            inc.correct_incident(item, _incident_data(form), form.reason.data,
                                 current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The correction is saved; the earlier version is kept."), "success")
            return redirect(url_for("patrols.incident", incident_id=item.id))
    return render_template("patrols/incident_form.html", form=form, incident=item)


@bp.route("/incidents.csv")
@permission_required("incidents.view")
def incidents_csv():
    """The register (as filtered) as CSV; the export is logged."""
    form = forms.IncidentFilterForm(request.args)
    _zone_choices(form.zone_id, "")
    form.category.choices = enum_choices(IncidentCategory, "")
    with_reporter = current_user.can("incidents.reporter")
    headers = [_("No."), _("Date and time"), _("Zone"), _("Place"), _("Category"),
               _("What happened"), _("What the patrol did"), _("Major crime"),
               _("Police station"), _("OB number"), _("Police officer"),
               _("About a person (unverified allegation)")]
    if with_reporter:
        headers += [_("Reported by"), _("Reporter's phone")]
    text = inc.export_csv(_filters(form), headers, enum_label, with_reporter)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="incidents.csv"'})


@bp.route("/incidents/summary")
@login_only
def incident_counts():
    """Incidents counted by month, zone and category: all that members see."""
    today = today_in_nairobi()
    start = date(today.year - 1, today.month, 1)
    rows = inc.counts(start, today)
    return render_template("patrols/incident_counts.html", rows=rows, start=start,
                           safe_count=safe_count,
                           by_month=incidents_by_month_chart(rows, start, today))
