"""The minutes screens: writing them, circulating, commenting, publishing, addenda, the
PDF, and the published minutes members read."""

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from association import transaction
from association.auth.permissions import login_only, permission_required
from association.errors import DomainError
from association.extensions import db
from association.meetings import pdf
from association.meetings.common import minutes_locked
from association.meetings.forms import EmptyForm, MinutesForm, PublishForm, TextForm
from association.meetings.minutes import (
    add_addendum,
    add_comment,
    can_read_minutes,
    circulate_minutes,
    publish_minutes,
    published_for_members,
    reopen_draft,
    save_minutes,
)
from association.meetings.models import Meeting, MinutesStatus
from association.meetings.quorum import attendance_counts, quorum_for
from association.meetings.views.base import (
    MAX_ID,
    bp,
    meeting_or_404,
    pdf_response,
    requested_language,
    run_service,
    to_detail,
)
from association.web import flash_form_errors


@bp.route("/meetings/<int:meeting_id>/minutes/edit", methods=["GET", "POST"])
@permission_required("meetings.manage")
def minutes_edit(meeting_id: int):
    """Write the discussion and decisions of each agenda item."""
    meeting = meeting_or_404(meeting_id)
    form = MinutesForm()
    if not form.is_submitted():
        form.language.data = meeting.minutes_language
    if form.validate_on_submit():
        items = {item.id: (request.form.get(f"discussion-{item.id}"),
                           request.form.get(f"decisions-{item.id}")) for item in meeting.agenda}
        try:
            save_minutes(meeting, items, form.language.data)
        except DomainError as error:
            transaction.discard()
            flash(str(error), "error")
        else:
            flash(_("The minutes are saved."), "success")
            return to_detail(meeting)
    return render_template("meetings/minutes_edit.html", meeting=meeting, form=form,
                           locked=minutes_locked(meeting))


def _lifecycle(meeting_id: int, action, success: str):
    meeting = meeting_or_404(meeting_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: action(meeting), success,
                       url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/minutes/circulate", methods=["POST"])
@permission_required("meetings.manage")
def minutes_circulate(meeting_id: int):
    """Circulate the draft minutes to the committee for comments."""
    return _lifecycle(meeting_id, circulate_minutes,
                      _("The minutes are circulated to the committee."))


@bp.route("/meetings/<int:meeting_id>/minutes/redraft", methods=["POST"])
@permission_required("meetings.manage")
def minutes_redraft(meeting_id: int):
    """Take circulated minutes back to draft."""
    return _lifecycle(meeting_id, reopen_draft, _("The minutes are a draft again."))


@bp.route("/meetings/<int:meeting_id>/minutes/publish", methods=["POST"])
@permission_required("meetings.manage")
def minutes_publish(meeting_id: int):
    """Publish confirmed minutes to members."""
    meeting = meeting_or_404(meeting_id)
    form = PublishForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: publish_minutes(meeting, form.members_may_read.data),
                       _("The minutes are published."),
                       url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/comments", methods=["POST"])
@permission_required("meetings.comment")
def comment(meeting_id: int):
    """A committee member comments on circulated minutes."""
    meeting = meeting_or_404(meeting_id)
    form = TextForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: add_comment(meeting, form.text.data, current_user.id),
                       _("Your comment is recorded."),
                       url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/addenda", methods=["POST"])
@permission_required("meetings.manage")
def addendum(meeting_id: int):
    """Correct published minutes with an addendum."""
    meeting = meeting_or_404(meeting_id)
    form = TextForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return to_detail(meeting)
    return run_service(lambda: add_addendum(meeting, form.text.data, current_user.id),
                       _("The addendum is added to the minutes."),
                       url_for("meetings.detail", meeting_id=meeting.id))


@bp.route("/meetings/<int:meeting_id>/minutes.pdf")
@login_only
def minutes_pdf(meeting_id: int):
    """The signed-off minutes as a PDF, in English or Swahili (?lang=sw)."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None or not can_read_minutes(current_user, meeting):
        abort(404)
    lang = requested_language()
    return pdf_response(pdf.minutes_pdf(meeting, lang),
                        f"minutes-{meeting.held_on.isoformat()}-{lang}.pdf")


@bp.route("/minutes")
@login_only
def minutes_list():
    """Published minutes that members may read."""
    page = db.paginate(published_for_members(), per_page=30, max_per_page=100,
                       error_out=False)
    return render_template("meetings/minutes_list.html", page=page)


@bp.route("/minutes/<int:meeting_id>")
@login_only
def minutes_read(meeting_id: int):
    """Read published minutes."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None or meeting.minutes_status != MinutesStatus.PUBLISHED \
            or not can_read_minutes(current_user, meeting):
        abort(404)
    return render_template("meetings/minutes_read.html", meeting=meeting,
                           quorum=quorum_for(meeting), counts=attendance_counts(meeting))
