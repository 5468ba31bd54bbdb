"""The compliance screens: what the registrar will find in order, the registration
record and certificate, the constitution's versions and the registration pack."""

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import today_in_nairobi
from association.core.uploads import read_upload
from association.errors import DomainError
from association.extensions import db
from association.meetings import governance, models, pack
from association.meetings.common import governance_record
from association.meetings.forms import ConstitutionForm, RecordForm
from association.meetings.models import Meeting
from association.meetings.views.base import (
    bp,
    get_or_404,
    meeting_choices,
    recent_meetings,
    requested_language,
    send_stored,
)


@bp.route("/compliance")
@permission_required("governance.pack")
def compliance():
    """What the registrar will find in order, and what is missing or due."""
    return render_template(
        "meetings/compliance.html", checks=governance.compliance(),
        record=governance_record(), versions=governance.constitutions(),
    )


@bp.route("/compliance/record", methods=["GET", "POST"])
@permission_required("governance.manage")
def record():
    """The founding date, registration certificate, KRA PIN and last return."""
    existing = governance_record()
    form = RecordForm(obj=existing)
    if form.validate_on_submit():
        data = governance.RecordData(
            founded_on=form.founded_on.data, certificate_number=form.certificate_number.data,
            certificate_issued_on=form.certificate_issued_on.data,
            certificate_renewal_on=form.certificate_renewal_on.data, kra_pin=form.kra_pin.data,
            last_return_on=form.last_return_on.data)
        try:
            governance.save_record(data, read_upload(form.certificate.data))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The registration record is saved."), "success")
            return redirect(url_for("meetings.compliance"))
    return render_template("meetings/record_form.html", form=form)


@bp.route("/compliance/constitution", methods=["GET", "POST"])
@permission_required("governance.manage")
def constitution_new():
    """Store a version of the constitution (PDF) with the meeting that adopted it."""
    form = ConstitutionForm()
    form.adopted_at_id.choices = meeting_choices(recent_meetings(), _("None"))
    if form.validate_on_submit():
        adopted_at = db.session.get(Meeting, form.adopted_at_id.data) \
            if form.adopted_at_id.data else None
        try:
            governance.add_constitution(form.label.data, form.adopted_on.data, adopted_at,
                                        read_upload(form.document.data), form.notes.data,
                                        current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The constitution is stored."), "success")
            return redirect(url_for("meetings.compliance"))
    return render_template("meetings/constitution_form.html", form=form)


@bp.route("/compliance/constitution/<int:version_id>")
@permission_required("governance.pack")
def constitution_file(version_id: int):
    """Download a version of the constitution."""
    version = get_or_404(models.ConstitutionVersion, version_id)
    return send_stored(version.file, "application/pdf", f"constitution-{version.adopted_on}")


@bp.route("/compliance/certificate")
@permission_required("governance.pack")
def certificate_file():
    """Download the copy of the registration certificate."""
    record_row = governance_record()
    if record_row is None:
        abort(404)
    return send_stored(record_row.certificate_file, record_row.certificate_type,
                       "registration-certificate")


@bp.route("/compliance/pack.zip")
@permission_required("governance.pack")
def registration_pack():
    """The registration pack: one ZIP of everything the registrar asks for."""
    content = pack.registration_pack(current_user, requested_language())
    response = Response(content, mimetype="application/zip")
    today = today_in_nairobi().isoformat()
    response.headers["Content-Disposition"] = \
        f'attachment; filename="registration-pack-{today}.zip"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
