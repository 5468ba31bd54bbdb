"""Every rule and every write of meetings: agenda, attendance, quorum, minutes, resolutions
and action items.

Minutes move draft -> circulated -> confirmed -> published. They are confirmed only by a
resolution of a later meeting, and once published they are never edited: a correction is an
addendum. Decisions of a meeting that has not reached its quorum are marked inquorate, and
such a meeting cannot change the dues.
"""

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from association.core.time import month_start, today_in_nairobi, utcnow
from association.errors import DomainError
from association.extensions import db
from association.ledger.dues import RateInput, add_rate_schedule
from association.ledger.errors import LedgerError
from association.meetings.models import (
    GENERAL_TYPES,
    ActionItem,
    ActionStatus,
    AgendaItem,
    AttendanceStatus,
    GovernanceRecord,
    MajorityRule,
    Meeting,
    MeetingAttendance,
    MeetingGuest,
    MeetingType,
    MinutesAddendum,
    MinutesComment,
    MinutesStatus,
    QuorumKind,
    QuorumRule,
    Resolution,
    ResolutionKind,
    ResolutionRate,
)
from association.members.models import Gender, Member, MemberStatus
from association.members.services import statuses_on

#: No meeting is recorded before this, whatever the founding date says (a typo guard).
EARLIEST = date(1990, 1, 1)
#: Meetings may be planned up to this far ahead.
PLAN_AHEAD = timedelta(days=366)
MAX_TEXT = 10_000
MAX_VOTES = 1_000_000

#: The quorum when the constitution settings say nothing: half of the active members for
#: general meetings, half of the committee (a fixed 5) for committee meetings.
DEFAULT_QUORUM = {
    MeetingType.GENERAL: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.AGM: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.SPECIAL: (QuorumKind.FRACTION, 1, 3, None),
    MeetingType.COMMITTEE: (QuorumKind.FIXED, None, None, 5),
    MeetingType.DIALOGUE: (QuorumKind.FIXED, None, None, 1),
}


class MeetingError(DomainError):
    """A meeting, its minutes or decisions cannot be changed as asked; nothing was written."""


class MinutesLockedError(MeetingError):
    """The minutes are confirmed or published: they are not edited any more."""


# --- Small helpers ----------------------------------------------------------


def _clean(text: str | None, limit: int, what, required: bool = True) -> str | None:
    """Text with spaces tidied; raises if required and blank, or longer than ``limit``."""
    value = (text or "").strip()
    if not value:
        if required:
            raise MeetingError(_l("%(what)s: this is required.", what=what))
        return None
    if len(value) > limit:
        raise MeetingError(_l("%(what)s is too long (at most %(n)d characters).",
                              what=what, n=limit))
    return value


def clean_line(text: str | None, limit: int, what, required: bool = True) -> str | None:
    return _clean(" ".join((text or "").split()), limit, what, required)


def governance_record() -> GovernanceRecord | None:
    return db.session.scalar(sa.select(GovernanceRecord).order_by(GovernanceRecord.id).limit(1))


def founded_on() -> date | None:
    record = governance_record()
    return record.founded_on if record else None


def meeting_label(meeting: Meeting) -> str:
    """A stable, human reference in English, e.g. "AGM 2026-03-14" (used in the books)."""
    names = {MeetingType.GENERAL: "General baraza", MeetingType.AGM: "AGM",
             MeetingType.SPECIAL: "Special general meeting",
             MeetingType.COMMITTEE: "Committee meeting",
             MeetingType.DIALOGUE: "Community dialogue"}
    return f"{names[meeting.type]} {meeting.held_on.isoformat()}"


def resolution_ref(resolution: Resolution) -> str:
    """"AGM 2026-03-14, resolution 3": how the ledger names the resolution."""
    return f"{meeting_label(resolution.meeting)}, resolution {resolution.number}"


def minutes_locked(meeting: Meeting) -> bool:
    return meeting.minutes_status in (MinutesStatus.CONFIRMED, MinutesStatus.PUBLISHED)


def check_editable(meeting: Meeting) -> None:
    if meeting.minutes_status == MinutesStatus.PUBLISHED:
        raise MinutesLockedError(_l("The minutes of this meeting are published: they cannot be "
                                    "changed. Add an addendum to correct them."))
    if meeting.minutes_status == MinutesStatus.CONFIRMED:
        raise MinutesLockedError(_l("The minutes of this meeting are confirmed: they cannot be "
                                    "changed any more."))


def check_held(meeting: Meeting, today: date | None = None) -> None:
    if meeting.held_on > (today or today_in_nairobi()):
        raise MeetingError(_l("This meeting has not taken place yet (%(date)s).",
                              date=meeting.held_on.isoformat()))


# --- Meetings and agenda ----------------------------------------------------


@dataclass
class MeetingData:
    type: MeetingType
    title: str
    held_on: date
    venue: str
    convener: str
    starts_at: time | str | None = None
    notice_on: date | None = None
    agenda: list[str] = field(default_factory=list)


def _check_meeting_data(data: MeetingData, today: date) -> MeetingData:
    try:
        data.type = MeetingType(data.type)
    except ValueError:
        raise MeetingError(_l("Choose the type of meeting.")) from None
    data.title = clean_line(data.title, 160, _l("Title"))
    data.venue = clean_line(data.venue, 160, _l("Venue"))
    data.convener = clean_line(data.convener, 120, _l("Convened by"))
    if not isinstance(data.held_on, date):
        raise MeetingError(_l("Enter the date of the meeting."))
    start = founded_on()
    if data.held_on < max(EARLIEST, start or EARLIEST):
        if start and data.held_on < start:
            raise MeetingError(_l("The meeting is dated %(date)s, before the association was "
                                  "founded (%(founded)s).", date=data.held_on.isoformat(),
                                  founded=start.isoformat()))
        raise MeetingError(_l("The meeting is dated %(date)s: that is too long ago.",
                              date=data.held_on.isoformat()))
    if data.held_on > today + PLAN_AHEAD:
        raise MeetingError(_l("A meeting can be planned at most a year ahead."))
    if data.notice_on is not None:
        if data.notice_on > data.held_on:
            raise MeetingError(_l("The notice must be given on or before the day of the "
                                  "meeting."))
        if data.notice_on < data.held_on - timedelta(days=366):
            raise MeetingError(_l("The notice date is more than a year before the meeting."))
    if isinstance(data.starts_at, time):
        data.starts_at = data.starts_at.strftime("%H:%M")
    elif data.starts_at is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d",
                                                         str(data.starts_at)):
        raise MeetingError(_l("Write the time as HH:MM, e.g. 14:30."))
    data.agenda = [" ".join(t.split()) for t in data.agenda if t and t.strip()]
    for title in data.agenda:
        if len(title) > 200:
            raise MeetingError(_l("An agenda item has at most 200 characters."))
    if len(data.agenda) > 50:
        raise MeetingError(_l("An agenda has at most 50 items."))
    return data


def create_meeting(data: MeetingData, created_by_id: int | None,
                   today: date | None = None) -> Meeting:
    """Record a meeting with its agenda; open action items of earlier meetings of the same
    kind are carried onto it as "matters arising".

    Raises:
        MeetingError: a missing or bad field, a date before the association was founded.
    """
    today = today or today_in_nairobi()
    data = _check_meeting_data(data, today)
    meeting = Meeting(
        type=data.type, title=data.title, held_on=data.held_on, starts_at=data.starts_at,
        venue=data.venue, convener=data.convener, notice_on=data.notice_on,
        created_by_id=created_by_id, minutes_status=MinutesStatus.DRAFT,
        minutes_language="en",
    )
    db.session.add(meeting)
    for position, title in enumerate(data.agenda, start=1):
        meeting.agenda.append(AgendaItem(position=position, title=title))
    db.session.flush()
    carry_forward(meeting)
    return meeting


def update_meeting(meeting: Meeting, data: MeetingData, today: date | None = None) -> Meeting:
    """Change the meeting's details (not its agenda).

    Raises:
        MeetingError: a bad field; MinutesLockedError: the minutes are confirmed or published.
    """
    check_editable(meeting)
    data = _check_meeting_data(data, today or today_in_nairobi())
    if data.type != meeting.type and meeting.resolutions:
        raise MeetingError(_l("Decisions are recorded for this meeting: its type cannot "
                              "change."))
    for name in ("type", "title", "held_on", "starts_at", "venue", "convener", "notice_on"):
        setattr(meeting, name, getattr(data, name))
    db.session.flush()
    return meeting


def delete_meeting(meeting: Meeting) -> None:
    """Delete a meeting recorded by mistake: only while nothing was decided at it.

    Raises:
        MeetingError: it has resolutions, elections, action items, minutes past draft, or
            records (officials, constitution, notices) that point to it.
    """
    from association.meetings.models import (
        ConstitutionVersion,
        Election,
        Official,
        OfficialsNotice,
    )

    if meeting.minutes_status != MinutesStatus.DRAFT:
        raise MeetingError(_l("Only a meeting whose minutes are still a draft can be deleted."))
    if meeting.resolutions or meeting.actions or meeting.addenda or meeting.comments:
        raise MeetingError(_l("Decisions are recorded for this meeting: it cannot be "
                              "deleted."))
    for model, column in ((Election, Election.meeting_id), (Official, Official.elected_at_id),
                          (ConstitutionVersion, ConstitutionVersion.adopted_at_id),
                          (OfficialsNotice, OfficialsNotice.meeting_id)):
        if db.session.scalar(sa.select(sa.func.count()).select_from(model)
                             .where(column == meeting.id)):
            raise MeetingError(_l("Other records point to this meeting: it cannot be "
                                  "deleted."))
    db.session.delete(meeting)
    db.session.flush()


def _family(meeting_type: MeetingType) -> list[MeetingType]:
    if meeting_type == MeetingType.COMMITTEE:
        return [MeetingType.COMMITTEE]
    return [MeetingType.GENERAL, MeetingType.AGM, MeetingType.SPECIAL]


def carry_forward(meeting: Meeting) -> int:
    """Put the open action items of earlier meetings of the same kind on this agenda."""
    if meeting.type == MeetingType.DIALOGUE:
        return 0
    already = {item.carried_action_id for item in meeting.agenda if item.carried_action_id}
    earlier = db.session.scalars(
        sa.select(ActionItem).join(Meeting, Meeting.id == ActionItem.meeting_id)
        .where(ActionItem.status == ActionStatus.OPEN, Meeting.held_on < meeting.held_on,
               Meeting.type.in_(_family(meeting.type)))
        .order_by(Meeting.held_on, ActionItem.id)
    )
    carried = []
    for action in earlier:
        if action.id in already:
            continue
        with force_locale(meeting.minutes_language or "en"):
            title = str(_l("Matters arising: %(what)s (%(owner)s)", what=action.description,
                           owner=action.owner))[:200]
        carried.append(AgendaItem(title=title, carried_action_id=action.id))
    if not carried:
        return 0
    # Matters arising follow the first item (the opening, or the confirmation of minutes).
    items = sorted(meeting.agenda, key=lambda i: i.position)
    ordered = items[:1] + carried + items[1:]
    for offset, item in enumerate(items, start=1):
        item.position = 1000 + offset
    db.session.flush()
    for offset, item in enumerate(ordered, start=1):
        item.position = offset
        if item not in items:
            meeting.agenda.append(item)
    db.session.flush()
    db.session.expire(meeting, ["agenda"])
    return len(carried)


def add_agenda_item(meeting: Meeting, title: str) -> AgendaItem:
    """Add an item at the end of the agenda.

    Raises:
        MeetingError: blank or too long; MinutesLockedError.
    """
    check_editable(meeting)
    title = clean_line(title, 200, _l("Agenda item"))
    if len(meeting.agenda) >= 50:
        raise MeetingError(_l("An agenda has at most 50 items."))
    item = AgendaItem(position=max((i.position for i in meeting.agenda), default=0) + 1,
                      title=title)
    meeting.agenda.append(item)
    db.session.flush()
    return item


def remove_agenda_item(item: AgendaItem) -> None:
    """Take an item off the agenda (only while it has no minutes) and renumber the rest."""
    meeting = item.meeting
    check_editable(meeting)
    if (item.discussion or item.decisions):
        raise MeetingError(_l("This item has minutes written: clear them first."))
    meeting.agenda.remove(item)
    db.session.flush()
    _renumber(meeting)


def _renumber(meeting: Meeting) -> None:
    items = sorted(meeting.agenda, key=lambda i: i.position)
    # Two steps, so the unique (meeting, position) never clashes on the way.
    for offset, item in enumerate(items, start=1):
        item.position = 1000 + offset
    db.session.flush()
    for offset, item in enumerate(items, start=1):
        item.position = offset
    db.session.flush()
    db.session.expire(meeting, ["agenda"])


def move_agenda_item(item: AgendaItem, up: bool) -> None:
    """Swap an item with the one above (or below) it."""
    meeting = item.meeting
    check_editable(meeting)
    items = sorted(meeting.agenda, key=lambda i: i.position)
    index = items.index(item)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(items):
        return
    items[index], items[other] = items[other], items[index]
    for offset, each in enumerate(items, start=1):
        each.position = 1000 + offset
    db.session.flush()
    for offset, each in enumerate(items, start=1):
        each.position = offset
    db.session.flush()
    db.session.expire(meeting, ["agenda"])


# --- Attendance -------------------------------------------------------------


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
        sheet: an ``expenses.Document`` (photo or PDF), optional.

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


# --- Quorum and counts ------------------------------------------------------


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


# --- Minutes ----------------------------------------------------------------


def save_minutes(meeting: Meeting, items: dict[int, tuple[str | None, str | None]],
                 language: str) -> Meeting:
    """Write the discussion and decisions of each agenda item.

    Raises:
        MinutesLockedError: confirmed or published minutes; MeetingError: text too long, an
            item of another meeting, a language other than English or Swahili.
    """
    check_editable(meeting)
    check_held(meeting)
    if language not in ("en", "sw"):
        raise MeetingError(_l("Choose English or Kiswahili."))
    by_id = {item.id: item for item in meeting.agenda}
    for item_id, (discussion, decisions) in items.items():
        item = by_id.get(item_id)
        if item is None:
            raise MeetingError(_l("That agenda item is not part of this meeting."))
        item.discussion = _clean(discussion, MAX_TEXT, _l("Discussion"), required=False)
        item.decisions = _clean(decisions, MAX_TEXT, _l("Decisions"), required=False)
    meeting.minutes_language = language
    db.session.flush()
    return meeting


def circulate_minutes(meeting: Meeting) -> Meeting:
    """Send draft minutes to the committee for comments.

    Raises:
        MeetingError: not a draft, the meeting not yet held, or no minutes written.
    """
    if meeting.minutes_status != MinutesStatus.DRAFT:
        raise MeetingError(_l("Only draft minutes can be circulated."))
    check_held(meeting)
    if not any(item.discussion or item.decisions for item in meeting.agenda):
        raise MeetingError(_l("Write the minutes of at least one agenda item first."))
    meeting.minutes_status = MinutesStatus.CIRCULATED
    meeting.circulated_at = utcnow()
    db.session.flush()
    return meeting


def minutes_awaiting_comment(user_id: int) -> list[Meeting]:
    """Circulated minutes the user has not commented on since they were circulated: the
    committee's in-app notice (there is no other notification channel)."""
    commented = sa.select(MinutesComment.id).where(
        MinutesComment.meeting_id == Meeting.id, MinutesComment.user_id == user_id,
        MinutesComment.created_at >= Meeting.circulated_at)
    return list(db.session.scalars(
        sa.select(Meeting).where(Meeting.minutes_status == MinutesStatus.CIRCULATED,
                                 ~commented.exists())
        .order_by(Meeting.circulated_at, Meeting.id)))


def reopen_draft(meeting: Meeting) -> Meeting:
    """Take circulated minutes back to draft (to rework them after comments)."""
    if meeting.minutes_status != MinutesStatus.CIRCULATED:
        raise MeetingError(_l("Only circulated minutes can go back to draft."))
    meeting.minutes_status = MinutesStatus.DRAFT
    db.session.flush()
    return meeting


def add_comment(meeting: Meeting, text: str, user_id: int | None) -> MinutesComment:
    if meeting.minutes_status != MinutesStatus.CIRCULATED:
        raise MeetingError(_l("Comments are taken only while the minutes are circulated."))
    comment = MinutesComment(text=_clean(text, 2000, _l("Comment")), user_id=user_id)
    meeting.comments.append(comment)
    db.session.flush()
    return comment


def publish_minutes(meeting: Meeting, members_may_read: bool = True) -> Meeting:
    """Publish confirmed minutes. Committee minutes reach members only if the committee
    chooses (``members_may_read``); general meetings' minutes always do.

    Raises:
        MeetingError: the minutes are not confirmed yet, or already published.
    """
    if meeting.minutes_status == MinutesStatus.PUBLISHED:
        raise MeetingError(_l("These minutes are already published."))
    if meeting.minutes_status != MinutesStatus.CONFIRMED:
        raise MeetingError(_l("Minutes are published only after a later meeting confirms "
                              "them."))
    meeting.minutes_status = MinutesStatus.PUBLISHED
    meeting.published_at = utcnow()
    meeting.members_may_read = True if meeting.type in GENERAL_TYPES else bool(members_may_read)
    db.session.flush()
    return meeting


def add_addendum(meeting: Meeting, text: str, user_id: int | None) -> MinutesAddendum:
    """A correction to published minutes, which themselves stay as they were."""
    if meeting.minutes_status != MinutesStatus.PUBLISHED:
        raise MeetingError(_l("Addenda are for published minutes; edit the draft instead."))
    addendum = MinutesAddendum(text=_clean(text, 4000, _l("Addendum")), added_by_id=user_id)
    meeting.addenda.append(addendum)
    db.session.flush()
    return addendum


def confirmable_meetings(meeting: Meeting) -> list[Meeting]:
    """Earlier meetings whose minutes this meeting could confirm."""
    return list(db.session.scalars(
        sa.select(Meeting).where(
            Meeting.held_on < meeting.held_on,
            Meeting.minutes_status.in_([MinutesStatus.DRAFT, MinutesStatus.CIRCULATED]))
        .order_by(Meeting.held_on.desc()).limit(20)
    ))


def can_read_minutes(user, meeting: Meeting) -> bool:
    """Officials read every meeting; others only published minutes open to members."""
    if user.can("meetings.view"):
        return True
    return meeting.minutes_status == MinutesStatus.PUBLISHED and (
        meeting.type in GENERAL_TYPES or meeting.members_may_read)


def published_for_members() -> sa.Select:
    return (sa.select(Meeting)
            .where(Meeting.minutes_status == MinutesStatus.PUBLISHED,
                   sa.or_(Meeting.type.in_([t.value for t in GENERAL_TYPES]),
                          Meeting.members_may_read.is_(True)))
            .order_by(Meeting.held_on.desc(), Meeting.id.desc()))


# --- Resolutions ------------------------------------------------------------


@dataclass
class ResolutionInput:
    text: str
    proposer: str
    seconder: str
    votes_for: int
    votes_against: int
    votes_abstain: int
    majority: MajorityRule = MajorityRule.SIMPLE
    kind: ResolutionKind = ResolutionKind.GENERAL
    confirms_meeting_id: int | None = None
    #: For a dues resolution: the month the rates start, and the rates.
    effective_from: date | None = None
    rates: list[RateInput] = field(default_factory=list)


def passes(votes_for: int, votes_against: int, majority: MajorityRule) -> bool:
    """Simple majority: more for than against. Two-thirds: at least two thirds of the votes
    cast (for and against; abstentions are not votes cast)."""
    if majority == MajorityRule.TWO_THIRDS:
        return votes_for > 0 and 3 * votes_for >= 2 * (votes_for + votes_against)
    return votes_for > votes_against


def _check_votes(meeting: Meeting, data: ResolutionInput) -> None:
    for value in (data.votes_for, data.votes_against, data.votes_abstain):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise MeetingError(_l("Votes must be whole numbers, zero or more."))
        if value > MAX_VOTES:
            raise MeetingError(_l("That is more votes than anyone could count."))
    total = data.votes_for + data.votes_against + data.votes_abstain
    present = present_count(meeting)
    recorded = meeting.headcount is not None or any(
        a.status == AttendanceStatus.PRESENT for a in meeting.attendance)
    if not recorded:
        raise MeetingError(_l("Record who attended (or the headcount) before the votes."))
    if total > present:
        raise MeetingError(_l("%(total)d votes were recorded but only %(present)d people were "
                              "present.", total=total, present=present))
    if total == 0:
        raise MeetingError(_l("Record the votes: for, against and abstaining."))


def record_resolution(meeting: Meeting, data: ResolutionInput, recorded_by_id: int | None,
                      today: date | None = None) -> Resolution:
    """Record a resolution with its votes; whether it passed follows the majority rule.

    A passed resolution confirming earlier minutes marks them confirmed; a passed dues
    resolution adds the rates to the ledger's schedule, named after the resolution.

    Raises:
        MeetingError: missing text or names, votes that add up to more than those present,
            minutes confirmed twice, dues set by an inquorate meeting, bad rates.
    """
    check_editable(meeting)
    check_held(meeting, today)
    kind = ResolutionKind(data.kind)
    majority = MajorityRule(data.majority)
    text = _clean(data.text, 4000, _l("Resolution"))
    proposer = clean_line(data.proposer, 120, _l("Proposed by"))
    seconder = clean_line(data.seconder, 120, _l("Seconded by"))
    if proposer.casefold() == seconder.casefold():
        raise MeetingError(_l("The seconder must be someone other than the proposer."))
    _check_votes(meeting, data)
    passed = passes(data.votes_for, data.votes_against, majority)
    quorum = quorum_for(meeting)
    inquorate = not quorum.met
    target = None
    if kind == ResolutionKind.CONFIRM_MINUTES:
        target = db.session.get(Meeting, data.confirms_meeting_id or 0)
        if target is None:
            raise MeetingError(_l("Choose the meeting whose minutes are confirmed."))
        if target.id == meeting.id or target.held_on >= meeting.held_on:
            raise MeetingError(_l("A meeting confirms the minutes of an earlier meeting."))
        if minutes_locked(target):
            raise MeetingError(_l("The minutes of %(meeting)s are already confirmed.",
                                  meeting=meeting_label(target)))
        if passed and inquorate:
            raise MeetingError(_l("This meeting did not reach its quorum: it cannot confirm "
                                  "minutes."))
    if kind == ResolutionKind.DUES:
        if not data.rates:
            raise MeetingError(_l("Give the new dues rates."))
        if data.effective_from is None:
            raise MeetingError(_l("Give the month the new rates start."))
        if passed and inquorate:
            raise MeetingError(_l("This meeting did not reach its quorum: it cannot change the "
                                  "dues."))
        if month_start(data.effective_from) < month_start(meeting.held_on):
            raise MeetingError(_l("New rates cannot start before the month of the meeting."))
    number = (db.session.scalar(sa.select(sa.func.max(Resolution.number))
                                .where(Resolution.meeting_id == meeting.id)) or 0) + 1
    resolution = Resolution(
        meeting=meeting, number=number, kind=kind, text=text, proposer=proposer,
        seconder=seconder, votes_for=data.votes_for, votes_against=data.votes_against,
        votes_abstain=data.votes_abstain, majority=majority, passed=passed,
        inquorate=inquorate, recorded_by_id=recorded_by_id,
    )
    db.session.add(resolution)
    db.session.flush()
    if passed and target is not None:
        resolution.confirms_meeting_id = target.id
        target.minutes_status = MinutesStatus.CONFIRMED
    if passed and kind == ResolutionKind.DUES:
        try:
            rates = add_rate_schedule(data.effective_from, data.rates, resolution_ref(resolution),
                                      recorded_by_id)
        except LedgerError as error:
            raise MeetingError(error.message) from None
        for rate in rates:
            db.session.add(ResolutionRate(resolution_id=resolution.id, dues_rate_id=rate.id))
    db.session.flush()
    return resolution


def link_existing_rates(resolution: Resolution) -> int:
    """Link the ledger's rates entered under this resolution's reference (on the ledger's
    rates screen) to it, and mark it as the resolution that set the dues."""
    from association.ledger.models import DuesRate

    linked = set(db.session.scalars(sa.select(ResolutionRate.dues_rate_id)))
    rates = [r for r in db.session.scalars(
        sa.select(DuesRate).where(DuesRate.resolution_ref == resolution_ref(resolution)))
        if r.id not in linked]
    for rate in rates:
        db.session.add(ResolutionRate(resolution_id=resolution.id, dues_rate_id=rate.id))
    if rates:
        resolution.kind = ResolutionKind.DUES
    db.session.flush()
    return len(rates)


def resolution_for_rate_ref(ref: str) -> Resolution | None:
    """The resolution whose reference the ledger's schedule shows (for links from it)."""
    from association.ledger.models import DuesRate

    rate_ids = sa.select(DuesRate.id).where(DuesRate.resolution_ref == ref)
    return db.session.scalar(
        sa.select(Resolution).join(ResolutionRate)
        .where(ResolutionRate.dues_rate_id.in_(rate_ids)).limit(1))


# --- Action items -----------------------------------------------------------


def add_action(meeting: Meeting, description: str, owner: str, due_on: date | None) -> ActionItem:
    """Something the meeting asked someone to do.

    Raises:
        MeetingError: blank fields or a due date before the meeting; MinutesLockedError.
    """
    check_editable(meeting)
    description = clean_line(description, 300, _l("Action"))
    owner = clean_line(owner, 120, _l("Who"))
    if due_on is not None and due_on < meeting.held_on:
        raise MeetingError(_l("The due date cannot be before the meeting."))
    if due_on is not None and due_on > meeting.held_on + timedelta(days=3 * 366):
        raise MeetingError(_l("The due date is more than three years after the meeting."))
    action = ActionItem(description=description, owner=owner, due_on=due_on,
                        status=ActionStatus.OPEN)
    meeting.actions.append(action)
    db.session.flush()
    return action


def set_action_status(action: ActionItem, status: ActionStatus,
                      today: date | None = None) -> ActionItem:
    status = ActionStatus(status)
    if status == action.status:
        raise MeetingError(_l("The action is already %(status)s.",
                              status=_status_label(status)))
    action.status = status
    action.closed_on = None if status == ActionStatus.OPEN else (today or today_in_nairobi())
    db.session.flush()
    return action


def _status_label(value) -> str:
    from association.i18n import enum_label

    return enum_label(value)


def open_actions() -> list[ActionItem]:
    return list(db.session.scalars(
        sa.select(ActionItem).join(Meeting).where(ActionItem.status == ActionStatus.OPEN)
        .order_by(ActionItem.due_on.is_(None), ActionItem.due_on, ActionItem.id)))


def meeting_query(meeting_type: MeetingType | None = None) -> sa.Select:
    stmt = sa.select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())
    if meeting_type is not None:
        stmt = stmt.where(Meeting.type == meeting_type)
    return stmt
