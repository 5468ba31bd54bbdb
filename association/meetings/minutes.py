"""The minutes of a meeting and their life: draft -> circulated -> confirmed ->
published. They are confirmed only by a resolution of a later meeting (see
:mod:`association.meetings.resolutions`); once published they are never edited, and a
correction is an addendum. Also who may read them."""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.time import utcnow
from association.extensions import db
from association.meetings.common import MeetingError, check_editable, check_held, clean_text
from association.meetings.models import (
    GENERAL_TYPES,
    Meeting,
    MinutesAddendum,
    MinutesComment,
    MinutesStatus,
)

MAX_TEXT = 10_000


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
        item.discussion = clean_text(discussion, MAX_TEXT, _l("Discussion"), required=False)
        item.decisions = clean_text(decisions, MAX_TEXT, _l("Decisions"), required=False)
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
    comment = MinutesComment(text=clean_text(text, 2000, _l("Comment")), user_id=user_id)
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
    addendum = MinutesAddendum(text=clean_text(text, 4000, _l("Addendum")), added_by_id=user_id)
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
