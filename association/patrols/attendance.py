"""Attendance: who turned up on each shift of a night (present, absent, excused, or
replaced by someone else), recorded all at once or not at all, and the counts the
stipends are paid from.
"""

import itertools
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.time import month_nights, now_in_nairobi, utcnow
from association.extensions import db
from association.patrols.errors import PatrolError
from association.patrols.models import Assignment, Attendance, Patroller


@dataclass(frozen=True)
class AttendanceInput:
    assignment_id: int
    status: Attendance | None
    replaced_by_id: int | None = None
    note: str | None = None


def record_attendance(night: date, entries: list[AttendanceInput], user_id: int | None,
                      now: datetime | None = None) -> int:
    """Record who turned up on the shifts of ``night``; all entries or none.

    Returns:
        How many assignments changed.

    Raises:
        PatrolError: a shift that has not started, an unknown assignment, a replacement
            missing, the same person, or already on that shift.
    """
    now = now or now_in_nairobi()
    rows = {a.id: a for a in db.session.scalars(
        sa.select(Assignment).where(Assignment.night == night))}
    changed = 0
    checked = []
    for entry in entries:
        a = rows.get(entry.assignment_id)
        if a is None:
            raise PatrolError(_l("That shift is not on this night's roster."))
        if entry.status is None:
            continue
        if a.starts_at > now:
            raise PatrolError(_l("The shift %(zone)s %(start)s has not happened yet: "
                                 "attendance can be recorded once it has started.",
                                 zone=a.zone.name, start=dates.wall_moment(a.starts_at)))
        replaced_by = None
        if entry.status == Attendance.REPLACED:
            replaced_by = db.session.get(Patroller, entry.replaced_by_id) \
                if entry.replaced_by_id else None
            if replaced_by is None:
                raise PatrolError(_l("Choose who replaced %(name)s.",
                                     name=a.patroller.member.full_name))
            if replaced_by.id == a.patroller_id:
                raise PatrolError(_l("Someone cannot replace themselves."))
            same_shift = {b.patroller_id for b in rows.values()
                          if b.template_id == a.template_id and b.id != a.id}
            if replaced_by.id in same_shift:
                raise PatrolError(_l("%(name)s was already on that shift.",
                                     name=replaced_by.member.full_name))
        checked.append((a, entry, replaced_by))
    _refuse_two_places_at_once(rows, checked)
    for a, entry, replaced_by in checked:
        new = (entry.status, replaced_by.id if replaced_by else None,
               " ".join((entry.note or "").split())[:200] or None)
        if (a.attendance, a.replaced_by_id, a.attendance_note) == new:
            continue
        a.attendance, a.replaced_by_id, a.attendance_note = new
        a.attendance_by_id = user_id
        a.attendance_at = utcnow()
        changed += 1
    db.session.flush()
    return changed


def _refuse_two_places_at_once(rows: dict, checked: list) -> None:
    """A replacement cannot have been on another shift of the night at the same time.

    Raises:
        PatrolError: after these entries, someone would be patrolling two overlapping
            shifts (as rostered, or as another replacement).
    """
    final = {b.id: (b.attendance, b.replaced_by_id) for b in rows.values()}
    for a, entry, replaced_by in checked:
        final[a.id] = (entry.status, replaced_by.id if replaced_by else None)

    def on_duty(b) -> int | None:
        status, replacement = final[b.id]
        if status == Attendance.REPLACED:
            return replacement
        return None if status in (Attendance.ABSENT, Attendance.EXCUSED) else b.patroller_id

    duty = sorted(((on_duty(b), b) for b in rows.values() if on_duty(b) is not None),
                  key=lambda pair: (pair[0], pair[1].starts_at))
    for (person, first), (other, second) in itertools.pairwise(duty):
        if person == other and second.starts_at < first.ends_at:
            changed = {a.id for a, _entry, _replaced_by in checked}
            later = second if second.id in changed else first
            name = db.session.get(Patroller, person).member.full_name
            elsewhere = first if later is second else second
            raise PatrolError(_l("%(name)s was on another shift at that time: %(zone)s "
                                 "from %(start)s.", name=name, zone=elsewhere.zone.name,
                                 start=elsewhere.starts_at.strftime("%H:%M")))


def attended_shifts(month: date) -> dict[int, int]:
    """Patroller id -> shifts they patrolled in ``month`` (present, or as a replacement)."""
    nights = month_nights(month.replace(day=1))
    counts: dict[int, int] = {}
    for a in db.session.scalars(sa.select(Assignment).where(
            Assignment.night.between(nights[0], nights[-1]),
            Assignment.attendance.in_((Attendance.PRESENT, Attendance.REPLACED)))):
        person = a.replaced_by_id if a.attendance == Attendance.REPLACED else a.patroller_id
        if person is not None:
            counts[person] = counts.get(person, 0) + 1
    return counts


def unrecorded_shifts(month: date, now: datetime | None = None) -> int:
    """Shifts of ``month`` that have started but have no attendance recorded."""
    nights = month_nights(month.replace(day=1))
    return db.session.scalar(sa.select(sa.func.count(Assignment.id)).where(
        Assignment.night.between(nights[0], nights[-1]), Assignment.attendance.is_(None),
        Assignment.starts_at <= (now or now_in_nairobi())))
