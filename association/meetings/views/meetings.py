"""The meetings screens: the list, calling a meeting, one meeting's page, changing or
deleting it."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import permission_required
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.meetings import governance, models, pdf
from association.meetings.actions import open_actions
from association.meetings.common import minutes_locked
from association.meetings.forms import (
    ActionForm,
    ActionStatusForm,
    AgendaItemForm,
    EmptyForm,
    MeetingForm,
    PublishForm,
    TextForm,
)
from association.meetings.meetings import (
    MeetingData,
    create_meeting,
    delete_meeting,
    meeting_query,
    update_meeting,
)
from association.meetings.minutes import minutes_awaiting_comment
from association.meetings.models import MeetingType, MinutesStatus
from association.meetings.quorum import attendance_charts, attendance_counts, quorum_for
from association.meetings.views.base import bp, meeting_or_404, to_detail
from association.web import flash_form_errors


def _form_data(form: MeetingForm) -> MeetingData:
    return MeetingData(
        type=MeetingType(form.type.data), title=form.title.data, held_on=form.held_on.data,
        venue=form.venue.data, convener=form.convener.data, starts_at=form.starts_at.data,
        notice_on=form.notice_on.data,
        agenda=(form.agenda.data or "").splitlines() if "agenda" in form else [])


@bp.route("/meetings")
@permission_required("meetings.view")
def index():
    """Every meeting, newest first, with open action items and notices due."""
    wanted = request.args.get("type", "")
    meeting_type = MeetingType(wanted) if wanted in {t.value for t in MeetingType} else None
    page = db.paginate(meeting_query(meeting_type), per_page=30, max_per_page=100,
                       error_out=False)
    return render_template(
        "meetings/index.html", page=page, types=list(MeetingType), wanted=wanted,
        actions=open_actions()[:30], notices=governance.pending_notices(),
        today=today_in_nairobi(), to_comment=_to_comment(),
        attendance=attendance_charts(),
    )


def _to_comment():
    """Circulated minutes waiting for the signed-in committee member's comments."""
    if not current_user.can("meetings.comment"):
        return []
    return minutes_awaiting_comment(current_user.id)


@bp.route("/meetings/new", methods=["GET", "POST"])
@permission_required("meetings.manage")
def new():
    """Call a meeting: type, date, venue, convener, notice and agenda."""
    form = MeetingForm()
    if form.validate_on_submit():
        try:
            meeting = create_meeting(_form_data(form), current_user.id)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The meeting is recorded."), "success")
            return to_detail(meeting)
    return render_template("meetings/form.html", form=form, meeting=None)


@bp.route("/meetings/<int:meeting_id>")
@permission_required("meetings.view")
def detail(meeting_id: int):
    """One meeting: agenda, attendance and quorum, minutes, resolutions, action items."""
    meeting = meeting_or_404(meeting_id)
    elections = db.session.scalars(sa.select(models.Election)
                                   .where(models.Election.meeting_id == meeting.id))
    confirmed_by = next(iter(pdf.confirming_resolutions(meeting)), None)
    return render_template(
        "meetings/detail.html", meeting=meeting, quorum=quorum_for(meeting),
        counts=attendance_counts(meeting), locked=minutes_locked(meeting),
        elections=list(elections), confirmed_by=confirmed_by,
        agenda_form=AgendaItemForm(), empty=EmptyForm(), text_form=TextForm(),
        action_form=ActionForm(), status_form=ActionStatusForm(), publish_form=PublishForm(),
        GENERAL=models.GENERAL_TYPES, MinutesStatus=MinutesStatus, today=today_in_nairobi(),
    )


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@permission_required("meetings.manage")
def edit(meeting_id: int):
    """Change the meeting's details (until its minutes are confirmed)."""
    meeting = meeting_or_404(meeting_id)
    form = MeetingForm(obj=meeting)
    del form.agenda
    if not form.is_submitted():
        form.type.data = meeting.type.value
    if form.validate_on_submit():
        try:
            update_meeting(meeting, _form_data(form))
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The meeting is saved."), "success")
            return to_detail(meeting)
    return render_template("meetings/form.html", form=form, meeting=meeting)


@bp.route("/meetings/<int:meeting_id>/delete", methods=["POST"])
@permission_required("meetings.manage")
def delete(meeting_id: int):
    """Delete a meeting recorded by mistake (nothing decided at it yet)."""
    meeting = meeting_or_404(meeting_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    try:
        delete_meeting(meeting)
    except DomainError as error:
        transaction.discard()
        flash(str(error), "error")
        return to_detail(meeting)
    flash(_("The meeting is deleted."), "success")
    return redirect(url_for("meetings.index"))
