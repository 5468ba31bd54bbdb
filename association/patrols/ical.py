"""A patroller's private calendar feed (iCalendar, RFC 5545) of their own shifts."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event

from association.core import dates
from association.core.time import NAIROBI
from association.extensions import db
from association.patrols.models import Assignment, Attendance, Patroller

#: How far back and ahead the feed reaches.
PAST_DAYS = 31
AHEAD_DAYS = 92


def shifts_for(patroller: Patroller, today: date) -> list[Assignment]:
    """Shifts ``patroller`` holds (or took as a replacement) around ``today``."""
    return list(db.session.scalars(
        sa.select(Assignment).where(
            sa.or_(sa.and_(Assignment.patroller_id == patroller.id,
                           sa.or_(Assignment.attendance.is_(None),
                                  Assignment.attendance != Attendance.REPLACED)),
                   Assignment.replaced_by_id == patroller.id),
            Assignment.night.between(today - timedelta(days=PAST_DAYS),
                                     today + timedelta(days=AHEAD_DAYS)))
        .order_by(Assignment.starts_at)))


def feed(patroller: Patroller, association: str, host: str, language: str,
         today: date) -> bytes:
    """The feed as bytes; each shift is one event in Nairobi time."""
    with force_locale(language):
        cal = Calendar()
        cal.add("prodid", "-//community-security-association//patrols//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("x-wr-calname", _("Patrol shifts · %(association)s", association=association))
        cal.add("x-wr-timezone", NAIROBI.key)
        for a in shifts_for(patroller, today):
            event = Event()
            event.add("uid", f"patrol-shift-{a.id}-{patroller.id}@{host}")
            event.add("summary", _("Patrol: %(zone)s", zone=a.zone.name))
            event.add("dtstart", a.starts_at.replace(tzinfo=NAIROBI))
            event.add("dtend", a.ends_at.replace(tzinfo=NAIROBI))
            event.add("dtstamp", datetime.now(NAIROBI))
            event.add("location", a.zone.name)
            event.add("description", _("Night of %(night)s. Never patrol alone: meet your team "
                                       "at the start.", night=dates.day(a.night)))
            if a.attendance in (Attendance.ABSENT, Attendance.EXCUSED):
                event.add("status", "CANCELLED")
            else:
                event.add("status", "CONFIRMED")
            cal.add_component(event)
        cal.add_missing_timezones()
        return cal.to_ical()
