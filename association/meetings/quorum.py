"""The quorum and the counts of a meeting: the constitution's rule per type of meeting,
how many members were active and present, whether the quorum was reached, and attendance
by gender and youth."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.core import dates
from association.core.charts import Chart, bar_chart
from association.core.time import today_in_nairobi, utcnow
from association.extensions import db
from association.i18n import enum_label
from association.meetings.common import MeetingError
from association.meetings.models import (
    AttendanceStatus,
    Meeting,
    MeetingAttendance,
    MeetingType,
    QuorumKind,
    QuorumRule,
)
from association.members.models import Gender, MemberStatus
from association.members.services import statuses_on

#: The quorum when the constitution settings say nothing: half of the active members for
#: general meetings, half of the committee (a fixed 5) for committee meetings.
DEFAULT_QUORUM = {
    MeetingType.GENERAL: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.AGM: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.SPECIAL: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.COMMITTEE: (QuorumKind.FIXED, None, None, 5),
    MeetingType.DIALOGUE: (QuorumKind.FIXED, None, None, 1),
}


def quorum_rule(meeting_type: MeetingType) -> tuple[QuorumKind, int | None, int | None,
                                                     int | None]:
    """(kind, numerator, denominator, fixed count) in force for this type of meeting."""
    rule = db.session.scalar(sa.select(QuorumRule).where(QuorumRule.meeting_type == meeting_type))
    if rule is None:
        return DEFAULT_QUORUM[meeting_type]
    return rule.kind, rule.numerator, rule.denominator, rule.fixed_count


def quorum_rules() -> dict[MeetingType, tuple]:
    return {t: quorum_rule(t) for t in MeetingType}


def set_quorum_rule(meeting_type: MeetingType, kind: QuorumKind, numerator: int | None,
                    denominator: int | None, fixed_count: int | None) -> QuorumRule:
    """Save the constitution's quorum for a type of meeting.

    Raises:
        MeetingError: a fraction that is not between 0 and 1, or a fixed number below 1.
    """
    meeting_type, kind = MeetingType(meeting_type), QuorumKind(kind)
    if kind == QuorumKind.FRACTION:
        if not numerator or not denominator or numerator < 1 or denominator < 1:
            raise MeetingError(_l("A fraction needs a top and a bottom number, both 1 or more "
                                  "(e.g. 1 of 3)."))
        if numerator > denominator:
            raise MeetingError(_l("The quorum cannot be more than all the members (%(n)d of "
                                  "%(d)d).", n=numerator, d=denominator))
        if denominator > 1000:
            raise MeetingError(_l("Write the fraction with smaller numbers (e.g. 1 of 3)."))
        fixed_count = None
    else:
        if not fixed_count or fixed_count < 1:
            raise MeetingError(_l("A fixed quorum must be at least 1 member."))
        if fixed_count > 100_000:
            raise MeetingError(_l("The fixed quorum is too large."))
        numerator = denominator = None
    rule = db.session.scalar(sa.select(QuorumRule).where(QuorumRule.meeting_type == meeting_type))
    if rule is None:
        rule = QuorumRule(meeting_type=meeting_type)
        db.session.add(rule)
    rule.kind, rule.numerator, rule.denominator = kind, numerator, denominator
    rule.fixed_count, rule.updated_at = fixed_count, utcnow()
    db.session.flush()
    return rule


def active_members_on(day: date) -> int:
    """How many members were active on ``day``, from the dated status history."""
    return sum(1 for value in statuses_on(day).values() if value == MemberStatus.ACTIVE)


@dataclass
class Quorum:
    kind: QuorumKind
    required: int
    present: int
    active: int | None
    numerator: int | None = None
    denominator: int | None = None
    recorded: bool = True

    @property
    def met(self) -> bool:
        return self.recorded and self.present >= self.required


def present_count(meeting: Meeting) -> int:
    named = sum(1 for a in meeting.attendance if a.status == AttendanceStatus.PRESENT)
    return meeting.headcount if meeting.headcount is not None else named


def quorum_for(meeting: Meeting) -> Quorum:
    """What the quorum was, how many came, and whether it was reached."""
    kind, numerator, denominator, fixed = quorum_rule(meeting.type)
    present = present_count(meeting)
    recorded = meeting.headcount is not None or any(
        a.status == AttendanceStatus.PRESENT for a in meeting.attendance)
    if kind == QuorumKind.FRACTION:
        active = active_members_on(meeting.held_on)
        required = max(1, -(-active * numerator // denominator))  # rounded up
        return Quorum(kind, required, present, active, numerator, denominator, recorded)
    return Quorum(kind, fixed, present, None, recorded=recorded)


@dataclass
class AttendanceCounts:
    total: int = 0
    women: int = 0
    men: int = 0
    other: int = 0
    unknown: int = 0
    youth: int = 0
    apologies: int = 0
    guests: int = 0
    headcount: int | None = None


def attendance_counts(meeting: Meeting) -> AttendanceCounts:
    """Counts by gender and youth (18-35) of the members present, as partners ask for."""
    counts = AttendanceCounts(guests=len(meeting.guests), headcount=meeting.headcount)
    for row in meeting.attendance:
        if row.status == AttendanceStatus.APOLOGY:
            counts.apologies += 1
            continue
        member = row.member
        counts.total += 1
        if member.gender == Gender.FEMALE:
            counts.women += 1
        elif member.gender == Gender.MALE:
            counts.men += 1
        elif member.gender == Gender.OTHER:
            counts.other += 1
        else:
            counts.unknown += 1
        if member.is_youth(meeting.held_on):
            counts.youth += 1
    return counts


#: How many of the latest meetings held the attendance charts show.
CHART_MEETINGS = 8


def attendance_charts(today: date | None = None,
                      count: int = CHART_MEETINGS) -> list[Chart]:
    """Who came to the latest meetings held (oldest first): members present by gender, and
    youth (18-35) among them. Counts only."""
    today = today or today_in_nairobi()
    # Their attendance and its members loaded with them: not a query per member present.
    meetings = list(reversed(db.session.scalars(
        sa.select(Meeting).where(Meeting.held_on <= today)
        .options(selectinload(Meeting.attendance).joinedload(MeetingAttendance.member),
                 selectinload(Meeting.guests))
        .order_by(Meeting.held_on.desc(), Meeting.id.desc()).limit(count)).all()))
    counts = [attendance_counts(m) for m in meetings]
    labels = [f"{dates.day(m.held_on)} · {enum_label(m.type)}" for m in meetings]
    return [
        bar_chart("attendance-gender", _("Members present, by gender"), labels,
                  [(_("Women"), [c.women for c in counts]),
                   (_("Men"), [c.men for c in counts]),
                   (_("Other or not recorded"), [c.other + c.unknown for c in counts])],
                  stacked=True,
                  summary=_("Members present at each of the latest meetings, by gender.")),
        bar_chart("attendance-youth", _("Members present, youth and older"), labels,
                  [(_("Youth (18-35)"), [c.youth for c in counts]),
                   (_("Older or age not recorded"), [c.total - c.youth for c in counts])],
                  stacked=True,
                  summary=_("Members present at each of the latest meetings: youth aged 18 "
                            "to 35 and the others.")),
    ]
