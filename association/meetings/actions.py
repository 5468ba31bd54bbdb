"""Action items: what a meeting asked someone to do, by when, and whether it was done,
dropped or is still open (open items are carried to the next meeting's agenda)."""

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core.time import today_in_nairobi
from association.extensions import db
from association.meetings.common import MeetingError, check_editable, clean_line
from association.meetings.models import ActionItem, ActionStatus, Meeting


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
