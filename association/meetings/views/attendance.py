"""The attendance screens: members present or sending apologies, guests, the headcount
and the sign-in sheet."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from association.auth.permissions import permission_required
from association.core.uploads import read_upload
from association.extensions import db
from association.meetings.attendance import (
    add_guest,
    mark_attendance,
    remove_attendance,
    remove_guest,
    set_headcount,
)
from association.meetings.common import minutes_locked
from association.meetings.forms import EmptyForm, GuestForm, HeadcountForm, MarkForm
from association.meetings.models import AttendanceStatus
from association.meetings.quorum import attendance_counts, quorum_for
from association.meetings.views.base import (
    MAX_ID,
    bp,
    meeting_or_404,
    run_service,
    send_stored,
)
from association.members.models import Member
from association.members.services import MemberFilters, member_query
from association.web import flash_form_errors


@bp.route("/meetings/<int:meeting_id>/attendance")
@permission_required("meetings.manage")
def attendance(meeting_id: int):
    """Register who came: search members by name, number or phone; guests; headcount."""
    meeting = meeting_or_404(meeting_id)
    q = " ".join(request.args.get("q", "").split())[:100]
    found = []
    if q:
        found = list(db.session.scalars(member_query(MemberFilters(q=q)).limit(30)))
    marked = {a.member_id: a.status for a in meeting.attendance}
    return render_template(
        "meetings/attendance.html", meeting=meeting, q=q, found=found, marked=marked,
        mark_form=MarkForm(), guest_form=GuestForm(), empty=EmptyForm(),
        headcount_form=HeadcountForm(headcount=meeting.headcount),
        counts=attendance_counts(meeting), quorum=quorum_for(meeting),
        locked=minutes_locked(meeting), AttendanceStatus=AttendanceStatus,
    )


@bp.route("/meetings/<int:meeting_id>/attendance", methods=["POST"])
@permission_required("meetings.manage")
def attendance_mark(meeting_id: int):
    """Mark a member present, or record their apology."""
    meeting = meeting_or_404(meeting_id)
    form = MarkForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id, q=request.args.get("q", ""))
    if not form.validate_on_submit() or not (form.member_id.data or "").isdigit() \
            or not 0 < int(form.member_id.data) <= MAX_ID:
        flash_form_errors(form)
        return redirect(back)
    member = db.session.get(Member, int(form.member_id.data))
    return run_service(lambda: mark_attendance(meeting, member, AttendanceStatus(form.status.data)),
                       _("Attendance saved."), back)


@bp.route("/meetings/<int:meeting_id>/attendance/<int:member_id>/remove", methods=["POST"])
@permission_required("meetings.manage")
def attendance_remove(meeting_id: int, member_id: int):
    """Take a member off the attendance list."""
    meeting = meeting_or_404(meeting_id)
    if not 0 < member_id <= MAX_ID:
        abort(404)
    form = EmptyForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return run_service(lambda: remove_attendance(meeting, member_id), _("Removed from the list."),
                       back)


@bp.route("/meetings/<int:meeting_id>/guests", methods=["POST"])
@permission_required("meetings.manage")
def guest_add(meeting_id: int):
    """Add a guest with their role."""
    meeting = meeting_or_404(meeting_id)
    form = GuestForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return run_service(lambda: add_guest(meeting, form.name.data, form.role.data,
                                         form.organisation.data), _("Guest added."), back)


@bp.route("/meetings/<int:meeting_id>/guests/<int:guest_id>/remove", methods=["POST"])
@permission_required("meetings.manage")
def guest_remove(meeting_id: int, guest_id: int):
    """Take a guest off the list."""
    meeting = meeting_or_404(meeting_id)
    form = EmptyForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return run_service(lambda: remove_guest(meeting, guest_id), _("Guest removed."), back)


@bp.route("/meetings/<int:meeting_id>/headcount", methods=["POST"])
@permission_required("meetings.manage")
def headcount(meeting_id: int):
    """The headcount when names were not captured, with the sign-in sheet's photo."""
    meeting = meeting_or_404(meeting_id)
    form = HeadcountForm()
    back = url_for("meetings.attendance", meeting_id=meeting.id)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(back)
    return run_service(lambda: set_headcount(meeting, form.headcount.data,
                                             read_upload(form.sheet.data)),
                       _("Headcount saved."), back)


@bp.route("/meetings/<int:meeting_id>/signin-sheet")
@permission_required("meetings.view")
def signin_sheet(meeting_id: int):
    """Download the photo of the paper sign-in sheet."""
    meeting = meeting_or_404(meeting_id)
    return send_stored(meeting.signin_file, meeting.signin_type,
                       f"sign-in-{meeting.held_on.isoformat()}")
