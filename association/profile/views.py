"""First-run setup and the association profile."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from association import transaction
from association.auth.permissions import permission_required
from association.profile.forms import ProfileForm
from association.profile.models import MpesaKind, RegistrationBody
from association.profile.services import ProfileData, ProfileError, get_profile, save_profile

bp = Blueprint("profile", __name__)


def _data(form: ProfileForm) -> ProfileData:
    return ProfileData(
        name=form.name.data,
        short_code=form.short_code.data,
        registration_body=RegistrationBody(form.registration_body.data),
        registration_number=form.registration_number.data,
        county=form.county.data,
        sub_county=form.sub_county.data,
        ward=form.ward.data,
        estate=form.estate.data,
        contact_phone=form.contact_phone.data,
        mpesa_kind=MpesaKind(form.mpesa_kind.data) if form.mpesa_kind.data else None,
        mpesa_number=form.mpesa_number.data,
        fiscal_year_start_month=form.fiscal_year_start_month.data,
    )


def _edit(first_run: bool):
    profile = get_profile()
    form = ProfileForm(obj=profile)
    if profile is not None and not form.is_submitted():
        form.registration_body.data = profile.registration_body.value
        form.mpesa_kind.data = profile.mpesa_kind.value if profile.mpesa_kind else ""
    if form.validate_on_submit():
        try:
            save_profile(_data(form))
        except ProfileError as error:
            transaction.discard()
            for name, message in error.problems.items():
                getattr(form, name).errors.append(str(message))
            flash(str(error), "error")
        else:
            flash(_("The association's details are saved."), "success")
            return redirect(url_for("core.home"))
    return render_template("profile/edit.html", form=form, first_run=first_run)


@bp.route("/setup", methods=["GET", "POST"])
@permission_required("profile.manage")
def setup():
    """First-run setup of the association's profile."""
    if get_profile() is not None:
        return redirect(url_for("profile.edit"))
    return _edit(first_run=True)


@bp.route("/association", methods=["GET", "POST"])
@permission_required("profile.manage")
def edit():
    """Change the association's details."""
    return _edit(first_run=False)
