"""What every part of meetings shares: the errors it raises, tidy text checks, the
governance record, how a meeting and a resolution are named, and whether minutes may still
change."""

import re
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.time import today_in_nairobi
from association.errors import DomainError
from association.extensions import db
from association.meetings.models import (
    ActionItem,
    GovernanceRecord,
    Meeting,
    MeetingType,
    MinutesStatus,
    Office,
    Resolution,
)


class MeetingError(DomainError):
    """A meeting, its minutes or decisions cannot be changed as asked; nothing was written."""


class MinutesLockedError(MeetingError):
    """The minutes are confirmed or published: they are not edited any more."""


def clean_text(text: str | None, limit: int, what, required: bool = True) -> str | None:
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
    return clean_text(" ".join((text or "").split()), limit, what, required)


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
                              date=dates.day(meeting.held_on)))


def agenda_title(item) -> str:
    """An agenda item's title in the reader's language: the "matters arising" items the app
    carries forward are stored in the minutes' language and shown from their action item."""
    if item.carried_action_id is None:
        return item.title
    action = db.session.get(ActionItem, item.carried_action_id)
    if action is None:
        return item.title
    return str(_l("Matters arising: %(what)s (%(owner)s)", what=action.description,
                  owner=action.owner))[:200]


_MEETING_NAMES = {"General baraza": MeetingType.GENERAL, "AGM": MeetingType.AGM,
                  "Special general meeting": MeetingType.SPECIAL,
                  "Committee meeting": MeetingType.COMMITTEE,
                  "Community dialogue": MeetingType.DIALOGUE}
_REF = re.compile(r"^(?P<kind>" + "|".join(_MEETING_NAMES) +
                  r") (?P<date>\d{4}-\d{2}-\d{2}), resolution (?P<n>\d+)$")
_TOOK_OFFICE = re.compile(r"^(?P<office>[A-Z][a-z -]+): (?P<name>.+) \((?P<no>[^()]+)\) from "
                          r"(?P<date>\d{4}-\d{2}-\d{2})(?:, elected by (?P<by>.+))?$")
_LEFT_OFFICE = re.compile(r"^(?P<office>[A-Z][a-z -]+): (?P<name>.+) left office on "
                          r"(?P<date>\d{4}-\d{2}-\d{2}) \((?P<reason>.*)\)$")


def describe_ref(text: str | None) -> str:
    """A resolution reference the app wrote ("AGM 2026-03-14, resolution 3", stored on dues
    rates) in the reader's language and the Kenyan date; anything else as typed."""
    match = _REF.match(text or "")
    if match is None:
        return text or ""
    return str(_l("%(meeting)s of %(date)s, resolution %(n)s",
                  meeting=_MEETING_NAMES[match["kind"]].label,
                  date=dates.day(date.fromisoformat(match["date"])), n=match["n"]))


def _office_label(english: str) -> str:
    try:
        return str(Office(english.lower().replace(" ", "_").replace("-", "_")).label)
    except ValueError:
        return english


def notice_summary(summary: str | None) -> str:
    """The change-of-officials notice's lines (stored in English as the app wrote them) in
    the reader's language, dates the Kenyan way; a line it does not know is kept."""
    lines = []
    for line in (summary or "").splitlines():
        if match := _TOOK_OFFICE.match(line):
            text = _l("%(office)s: %(name)s (%(no)s) from %(date)s", office=_office_label(
                match["office"]), name=match["name"], no=match["no"],
                date=dates.day(date.fromisoformat(match["date"])))
            if match["by"]:
                text = _l("%(change)s, elected by %(ref)s", change=str(text),
                          ref=describe_ref(match["by"]))
            lines.append(str(text))
        elif match := _LEFT_OFFICE.match(line):
            lines.append(str(_l("%(office)s: %(name)s left office on %(date)s (%(reason)s)",
                                office=_office_label(match["office"]), name=match["name"],
                                date=dates.day(date.fromisoformat(match["date"])),
                                reason=match["reason"])))
        else:
            lines.append(line)
    return "\n".join(lines)
