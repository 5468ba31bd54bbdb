"""Calling a meeting and its agenda: create, change or delete a meeting, carry open
action items forward as matters arising, and add, remove or reorder agenda items."""

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.time import today_in_nairobi
from association.extensions import db
from association.meetings.common import MeetingError, check_editable, clean_line, founded_on
from association.meetings.models import (
    ActionItem,
    ActionStatus,
    AgendaItem,
    Meeting,
    MeetingType,
    MinutesStatus,
)

#: No meeting is recorded before this, whatever the founding date says (a typo guard).
EARLIEST = date(1990, 1, 1)
#: Meetings may be planned up to this far ahead.
PLAN_AHEAD = timedelta(days=366)


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
                                  "founded (%(founded)s).", date=dates.day(data.held_on),
                                  founded=dates.day(start)))
        raise MeetingError(_l("The meeting is dated %(date)s: that is too long ago.",
                              date=dates.day(data.held_on)))
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


def _renumber(meeting: Meeting, items: list[AgendaItem] | None = None) -> None:
    """Number the agenda 1, 2, 3... in the order of ``items`` (by default, as it stands)."""
    if items is None:
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
    _renumber(meeting, items)


def meeting_query(meeting_type: MeetingType | None = None) -> sa.Select:
    stmt = sa.select(Meeting).order_by(Meeting.held_on.desc(), Meeting.id.desc())
    if meeting_type is not None:
        stmt = stmt.where(Meeting.type == meeting_type)
    return stmt
