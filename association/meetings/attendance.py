"""Who came to a meeting: members present or sending apologies, guests with their role,
and the headcount with a photo of the sign-in sheet when names were not captured."""

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.extensions import db
from association.meetings.common import MeetingError, check_editable, check_held, clean_line
from association.meetings.models import AttendanceStatus, Meeting, MeetingAttendance, MeetingGuest
from association.members.models import Member


def mark_attendance(meeting: Meeting, member: Member | None, status: AttendanceStatus,
                    today: date | None = None) -> MeetingAttendance:
    """Record a member as present (or as having sent an apology); marking again changes it.

    Raises:
        MeetingError: no such member, a member who had left, a meeting not yet held
            (apologies may come before), minutes locked.
    """
    check_editable(meeting)
    if member is None:
        raise MeetingError(_l("Choose a member from the register."))
    status = AttendanceStatus(status)
    if status == AttendanceStatus.PRESENT:
        check_held(meeting, today)
    if member.joined_on > meeting.held_on:
        raise MeetingError(_l("%(name)s joined after this meeting.", name=member.full_name))
    row = db.session.scalar(sa.select(MeetingAttendance).where(
        MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.member_id == member.id))
    if row is None:
        row = MeetingAttendance(member_id=member.id, status=status)
        meeting.attendance.append(row)
    row.status = status
    db.session.flush()
    return row


def remove_attendance(meeting: Meeting, member_id: int) -> None:
    check_editable(meeting)
    row = db.session.scalar(sa.select(MeetingAttendance).where(
        MeetingAttendance.meeting_id == meeting.id, MeetingAttendance.member_id == member_id))
    if row is None:
        raise MeetingError(_l("That member is not on this meeting's list."))
    meeting.attendance.remove(row)
    db.session.flush()


def add_guest(meeting: Meeting, name: str, role: str, organisation: str | None) -> MeetingGuest:
    """A guest with their role (a police officer, the chief, a partner's officer)."""
    check_editable(meeting)
    guest = MeetingGuest(name=clean_line(name, 120, _l("Guest's name")),
                         role=clean_line(role, 120, _l("Role")),
                         organisation=clean_line(organisation, 120, _l("Organisation"), False))
    if len(meeting.guests) >= 200:
        raise MeetingError(_l("A meeting has at most 200 guests on record."))
    meeting.guests.append(guest)
    db.session.flush()
    return guest


def remove_guest(meeting: Meeting, guest_id: int) -> None:
    check_editable(meeting)
    guest = next((g for g in meeting.guests if g.id == guest_id), None)
    if guest is None:
        raise MeetingError(_l("That guest is not on this meeting's list."))
    meeting.guests.remove(guest)
    db.session.flush()


def set_headcount(meeting: Meeting, count: int | None, sheet=None,
                  today: date | None = None) -> Meeting:
    """The number present when names were not captured, with a photo of the sign-in sheet.

    Args:
        count: None clears the headcount (names are then counted).
        sheet: a ``core.uploads.Document`` (photo or PDF), optional.

    Raises:
        MeetingError: a negative or absurd count, fewer than the names recorded, a bad file.
    """
    from association.meetings import files

    check_editable(meeting)
    check_held(meeting, today)
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MeetingError(_l("The headcount must be a whole number, zero or more."))
        if count > 100_000:
            raise MeetingError(_l("The headcount is too large."))
        named = sum(1 for a in meeting.attendance if a.status == AttendanceStatus.PRESENT)
        if count < named:
            raise MeetingError(_l("The headcount (%(count)d) is less than the %(named)d members "
                                  "recorded as present.", count=count, named=named))
    if sheet is not None:
        name, content_type = files.store(sheet, "signin")
        meeting.signin_file, meeting.signin_type = name, content_type
    meeting.headcount = count
    db.session.flush()
    return meeting
