"""The members register: list, detail, add, edit, status, consent, zones."""

import io

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import joinedload

from association import transaction
from association.audit.services import log_event
from association.auth.permissions import login_only, permission_required
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices
from association.members import exporting, importing, services
from association.members.forms import (
    ConsentForm,
    ImportConfirmForm,
    ImportForm,
    MemberForm,
    SearchForm,
    StatusForm,
    WithdrawConsentForm,
    ZoneForm,
)
from association.members.models import (
    Category,
    ConsentChannel,
    ConsentPurpose,
    Gender,
    Member,
    MemberConsent,
    MemberStatus,
    Zone,
)
from association.web import flash_form_errors

bp = Blueprint("members", __name__)


def _zone_choices(blank=None):
    return choices(((z.id, z.name) for z in services.list_zones()), blank)


def _member_or_404(member_id: int):
    member = services.get_member_for(current_user, member_id)
    if member is None:
        abort(404)
    return member


def _data(form: MemberForm) -> services.MemberData:
    return services.MemberData(
        first_name=form.first_name.data,
        other_names=form.other_names.data,
        phone=form.phone.data,
        national_id=form.national_id.data,
        gender=Gender(form.gender.data) if form.gender.data else None,
        year_of_birth=form.year_of_birth.data,
        category=Category(form.category.data),
        rental_premises=form.rental_premises.data,
        zone_id=form.zone_id.data,
        plot=form.plot.data,
        house=form.house.data,
        joined_on=form.joined_on.data,
        notes=form.notes.data,
    )


def _show_problems(form, error: services.MemberDataError) -> None:
    for name, message in error.problems.items():
        getattr(form, name).errors.append(str(message))
    flash(str(error), "error")


@bp.route("/members")
@permission_required("members.view")
def index():
    """Search and filter the register, 50 members a page."""
    form = SearchForm(request.args)
    form.zone.choices = choices(
        ((str(z.id), z.name) for z in services.list_zones()), _("All zones")
    )
    filters = services.MemberFilters()
    if form.validate():
        filters = services.MemberFilters(
            q=form.q.data or "",
            zone_id=int(form.zone.data) if form.zone.data else None,
            category=Category(form.category.data) if form.category.data else None,
            status=MemberStatus(form.status.data) if form.status.data else None,
        )
    page = db.paginate(
        services.member_query(filters).options(joinedload(Member.zone)),
        per_page=current_app.config["MEMBERS_PER_PAGE"], max_per_page=100, error_out=False,
    )
    filters_args = {k: v for k, v in request.args.items() if k in ("q", "zone", "category",
                                                                   "status") and v}
    return render_template("members/index.html", form=form, page=page, filters_args=filters_args)


@bp.route("/members/new", methods=["GET", "POST"])
@permission_required("members.edit")
def new():
    """Add a member to the register; the member number is given automatically."""
    form = MemberForm()
    form.zone_id.choices = _zone_choices(blank=_("Choose a zone"))
    if form.validate_on_submit():
        try:
            member = services.register_member(_data(form), recorded_by_id=current_user.id)
        except services.MemberDataError as error:
            transaction.discard()
            _show_problems(form, error)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("%(name)s is registered as member %(no)s.",
                    name=member.full_name, no=member.member_no), "success")
            return redirect(url_for("members.detail", member_id=member.id))
    return render_template("members/form.html", form=form, member=None)


@bp.route("/members/<int:member_id>")
@login_only
def detail(member_id: int):
    """One member's record (a member may open only their own)."""
    member = _member_or_404(member_id)
    return render_template(
        "members/detail.html",
        member=member,
        status_form=StatusForm(),
        consent_form=ConsentForm(),
        withdraw_form=WithdrawConsentForm(),
        show_id=current_user.can("members.national_id"),
        consent_text=services.consent_text,
    )


@bp.route("/me")
@login_only
def me():
    """The logged-in user's own member record."""
    if current_user.member_id is None:
        return render_template("members/no_member.html")
    return redirect(url_for("members.detail", member_id=current_user.member_id))


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@permission_required("members.edit")
def edit(member_id: int):
    """Change a member's details; every change is audited."""
    member = _member_or_404(member_id)
    form = MemberForm(obj=member)
    form.zone_id.choices = _zone_choices(blank=_("Choose a zone"))
    if not form.is_submitted():
        form.gender.data = member.gender.value if member.gender else ""
        form.category.data = member.category.value
    if form.validate_on_submit():
        try:
            services.update_member(member, _data(form))
        except services.MemberDataError as error:
            transaction.discard()
            _show_problems(form, error)
        else:
            flash(_("The changes to %(no)s are saved.", no=member.member_no), "success")
            return redirect(url_for("members.detail", member_id=member.id))
    return render_template("members/form.html", form=form, member=member)


@bp.route("/members/<int:member_id>/status", methods=["POST"])
@permission_required("members.edit")
def status(member_id: int):
    """Suspend, reinstate or record that a member left."""
    member = _member_or_404(member_id)
    form = StatusForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("members.detail", member_id=member.id))
    try:
        services.change_status(
            member, MemberStatus(form.status.data), form.effective_on.data, form.reason.data,
            recorded_by_id=current_user.id,
        )
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("The status of %(no)s is changed.", no=member.member_no), "success")
    return redirect(url_for("members.detail", member_id=member.id))


@bp.route("/members/<int:member_id>/consents", methods=["POST"])
@permission_required("members.edit")
def consent(member_id: int):
    """Record a member's consent, keeping the exact words they agreed to."""
    member = _member_or_404(member_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("members.detail", member_id=member.id))
    try:
        services.record_consent(
            member, ConsentPurpose(form.purpose.data), ConsentChannel(form.channel.data),
            form.given_on.data, form.language.data, recorded_by_id=current_user.id,
        )
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Consent recorded."), "success")
    return redirect(url_for("members.detail", member_id=member.id))


@bp.route("/members/<int:member_id>/consents/<int:consent_id>/withdraw", methods=["POST"])
@login_only
def withdraw_consent(member_id: int, consent_id: int):
    """Withdraw a consent: officials who edit the register, or the member themselves."""
    member = _member_or_404(member_id)
    own = current_user.member_id == member.id
    if not (own or current_user.can("members.edit")):
        abort(403)
    record = db.session.get(MemberConsent, consent_id)
    if record is None or record.member_id != member.id:
        abort(404)
    form = WithdrawConsentForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.withdraw_consent(record, today_in_nairobi(), form.reason.data, current_user.id)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
    else:
        flash(_("Consent withdrawn."), "success")
    return redirect(url_for("members.detail", member_id=member.id))


@bp.route("/zones", methods=["GET", "POST"])
@permission_required("zones.manage")
def zones():
    """The zones members live in (beats for the patrols); add one."""
    form = ZoneForm()
    if form.validate_on_submit():
        try:
            services.save_zone(form.name.data, form.description.data)
        except DomainError as error:
            transaction.discard()
            form.name.errors.append(str(error))
        else:
            flash(_("Zone %(name)s added.", name=form.name.data.strip()), "success")
            return redirect(url_for("members.zones"))
    return render_template("members/zones.html", form=form, zones=services.zone_counts())


@bp.route("/zones/<int:zone_id>", methods=["GET", "POST"])
@permission_required("zones.manage")
def zone_edit(zone_id: int):
    """Rename a zone or change its description."""
    zone = db.get_or_404(Zone, zone_id)
    form = ZoneForm(obj=zone)
    if form.validate_on_submit():
        try:
            services.save_zone(form.name.data, form.description.data, zone=zone)
        except DomainError as error:
            transaction.discard()
            form.name.errors.append(str(error))
        else:
            flash(_("Zone %(name)s saved.", name=zone.name), "success")
            return redirect(url_for("members.zones"))
    return render_template("members/zone_form.html", form=form, zone=zone)


# --- Import and export of the whole register ------------------------------------------


def _import_page(form, preview=None, confirm_form=None):
    return render_template(
        "members/import.html", form=form, preview=preview, confirm_form=confirm_form
    )


@bp.route("/members/import", methods=["GET", "POST"])
@permission_required("members.import")
def import_upload():
    """Upload a register (CSV or Excel) and preview every row; nothing is written yet."""
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            preview, token = importing.preview_upload(
                upload.filename or "", upload.read(), current_user.id, today_in_nairobi()
            )
        except importing.RegisterFileError as error:
            flash(str(error), "error")
        else:
            confirm_form = ImportConfirmForm(formdata=None, token=token) if token else None
            return _import_page(ImportForm(formdata=None), preview, confirm_form)
    return _import_page(form)


@bp.route("/members/import/confirm", methods=["POST"])
@permission_required("members.import")
def import_confirm():
    """Import the previewed file: every member in it, numbered in file order, or none."""
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("members.import_upload"))
    token = form.token.data
    try:
        members = importing.import_staged(token, current_user.id, today_in_nairobi())
    except importing.RegisterImportError as error:
        transaction.discard()
        importing.discard_staged(token)
        flash(str(error), "error")
        return _import_page(ImportForm(formdata=None), error.preview)
    except DomainError as error:  # the upload is gone or not theirs; the register is busy
        transaction.discard()
        flash(str(error), "error")
        return redirect(url_for("members.import_upload"))
    importing.discard_staged(token)
    flash(ngettext("%(num)d member imported.", "%(num)d members imported.", len(members)),
          "success")
    return redirect(url_for("members.index"))


def _search_filters() -> services.MemberFilters:
    """The list's search and filters from the query string, read as index() reads them."""
    form = SearchForm(request.args)
    form.zone.choices = choices(
        ((str(z.id), z.name) for z in services.list_zones()), _("All zones")
    )
    if not form.validate():
        return services.MemberFilters()
    return services.MemberFilters(
        q=form.q.data or "",
        zone_id=int(form.zone.data) if form.zone.data else None,
        category=Category(form.category.data) if form.category.data else None,
        status=MemberStatus(form.status.data) if form.status.data else None,
    )


@bp.route("/members/export")
@permission_required("members.export")
def export():
    """Download the register, as filtered on the list, as CSV or Excel; it is audited."""
    fmt = request.args.get("format", "")
    if fmt not in exporting.EXPORT_MIMETYPES:
        abort(400)
    show_ids = current_user.can("members.national_id")
    content, rows = exporting.export_register(_search_filters(), show_ids, fmt)
    log_event("export", "member", None, {"format": fmt, "rows": rows, "ids_shown": show_ids})
    response = send_file(
        io.BytesIO(content),
        mimetype=exporting.EXPORT_MIMETYPES[fmt],
        as_attachment=True,
        download_name=f"members-{today_in_nairobi().isoformat()}.{fmt}",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"  # personal data: keep no copy in caches
    return response
