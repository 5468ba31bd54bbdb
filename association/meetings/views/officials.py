"""The officials screens: the register of office bearers, putting a member in office,
ending a term, and the change-of-officials notices for the registrar."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from association import transaction
from association.auth.permissions import permission_required
from association.core import dates
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.i18n import choices, enum_label
from association.meetings import governance, pdf
from association.meetings.forms import EndTermForm, NoticeFiledForm, OfficialForm
from association.meetings.models import Meeting, Official, OfficialsNotice, Resolution
from association.meetings.views.base import (
    bp,
    get_or_404,
    meeting_choices,
    pdf_response,
    recent_meetings,
    requested_language,
    run_service,
    short_text,
)
from association.members.services import get_member_by_number
from association.web import flash_form_errors


@bp.route("/officials")
@permission_required("meetings.view")
def officials():
    """The register of office bearers, past and present, and notices due."""
    today = today_in_nairobi()
    return render_template(
        "meetings/officials.html", current=governance.current_officials(today),
        history=governance.all_officials(), notices=governance.pending_notices(),
        filed_form=NoticeFiledForm(formdata=None, filed_on=today),
        end_form=EndTermForm(formdata=None, ended_on=today), today=today,
    )


@bp.route("/officials/new", methods=["GET", "POST"])
@permission_required("governance.manage")
def official_new():
    """Put a member in office (co-option, or an election recorded elsewhere)."""
    form = OfficialForm()
    recent = recent_meetings()
    form.elected_at_id.choices = meeting_choices(recent, _("None"))
    form.resolution_id.choices = choices(
        ((r.id, f"{dates.day(r.meeting.held_on)} · {enum_label(r.meeting.type)} · "
                f"{_('Resolution %(number)d: %(text)s', number=r.number, text=short_text(r.text))}")
         for r in governance.official_resolutions(recent)), _("None"))
    if form.validate_on_submit():
        try:
            member = get_member_by_number(form.member_no.data)
            elected_at = db.session.get(Meeting, form.elected_at_id.data) \
                if form.elected_at_id.data else None
            resolution = db.session.get(Resolution, form.resolution_id.data) \
                if form.resolution_id.data else None
            governance.appoint(form.office.data, member, form.term_start.data,
                               form.term_end.data, elected_at=elected_at,
                               resolution=resolution,
                               phone=form.phone.data, email=form.email.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The officials register is updated. The change-of-officials notice is due "
                    "within 14 days."), "success")
            return redirect(url_for("meetings.officials"))
    return render_template("meetings/official_form.html", form=form)


@bp.route("/officials/<int:official_id>/end", methods=["POST"])
@permission_required("governance.manage")
def official_end(official_id: int):
    """An official leaves office."""
    official = get_or_404(Official, official_id)
    form = EndTermForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("meetings.officials"))
    return run_service(
        lambda: governance.end_term(official, form.ended_on.data, form.reason.data),
        _("The term is ended. The change-of-officials notice is due within 14 days."),
        url_for("meetings.officials"))


@bp.route("/officials.pdf")
@permission_required("meetings.view")
def officials_pdf():
    """The officials in office today, as a PDF."""
    today = today_in_nairobi()
    content = pdf.officials_pdf(governance.current_officials(today), requested_language(), today)
    return pdf_response(content, f"officials-{today.isoformat()}.pdf")


def _notice(notice_id: int) -> OfficialsNotice:
    return get_or_404(OfficialsNotice, notice_id)


@bp.route("/officials/notices/<int:notice_id>.pdf")
@permission_required("governance.manage")
def notice_pdf(notice_id: int):
    """The change-of-officials notice for the registrar, to sign by three officers."""
    notice = _notice(notice_id)
    content = pdf.notice_pdf(notice, governance.current_officials(notice.changed_on),
                             requested_language())
    return pdf_response(content, f"change-of-officials-{notice.changed_on.isoformat()}.pdf",
                        attachment=True)


@bp.route("/officials/notices/<int:notice_id>/filed", methods=["POST"])
@permission_required("governance.manage")
def notice_filed(notice_id: int):
    """Record that the notice reached the registrar."""
    notice = _notice(notice_id)
    form = NoticeFiledForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("meetings.officials"))
    return run_service(lambda: governance.mark_notice_filed(notice, form.filed_on.data),
                       _("The notice is marked as filed."), url_for("meetings.officials"))
