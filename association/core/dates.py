"""Dates and times as people in Kenya read them, in one place: "30 Nov 2026", "Nov 2026",
"23:07" (24-hour), "30 Nov 2026, 23:07", in the user's language (Swahili months from Babel's
``sw``: "30 Des 2026"). Never an ISO date, an ISO month or a date in numbers only, which a
phone set to US English and a Kenyan reader take for different days.

Screens (the Jinja filters ``day``, ``month``, ``time``, ``moment``, registered in
``create_app``) and PDFs use these. Machine-readable exports (CSV, XLSX, ICS, JSON) keep ISO.
"""

from datetime import date, datetime
from datetime import time as clock

from flask_babel import format_date, format_datetime, lazy_pgettext

#: Weekday headings short enough for a table, and told apart in both languages (Swahili's
#: names all start "Jum", so a slice of the name will not do).
WEEKDAY_SHORT = (
    lazy_pgettext("weekday heading", "Mon"), lazy_pgettext("weekday heading", "Tue"),
    lazy_pgettext("weekday heading", "Wed"), lazy_pgettext("weekday heading", "Thu"),
    lazy_pgettext("weekday heading", "Fri"), lazy_pgettext("weekday heading", "Sat"),
    lazy_pgettext("weekday heading", "Sun"),
)

DAY = "d MMM y"
MONTH = "MMM y"
TIME = "HH:mm"


def day(value: date | datetime | None) -> str:
    """30 Nov 2026 (a datetime is taken as naive UTC and shown on Nairobi's calendar)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, DAY)
    return format_date(value, DAY)


def month(value: date | str | None) -> str:
    """Nov 2026 (Swahili: Des 2026), from a date or a month written YYYY-MM."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:7] + "-01")
    return format_date(value, MONTH)


def time(value: clock | datetime | None) -> str:
    """23:07: a wall-clock time as stored (a shift's start, a meeting's); a stored moment
    (naive UTC) goes through :func:`moment`."""
    return "" if value is None else value.strftime("%H:%M")


def moment(value: datetime | None) -> str:
    """30 Nov 2026, 23:07: a stored (naive UTC) moment, in Nairobi."""
    if value is None:
        return ""
    return f"{format_datetime(value, DAY)}, {format_datetime(value, TIME)}"


def wall_moment(value: datetime | None) -> str:
    """30 Nov 2026, 23:07: a Nairobi wall-clock time stored as such (a shift's start)."""
    if value is None:
        return ""
    return f"{format_date(value.date(), DAY)}, {value:%H:%M}"


def period(start: date, end: date) -> str:
    """1 Jan 2026 - 30 Nov 2026."""
    return f"{day(start)} - {day(end)}"


def weekday_short(weekday: int) -> str:
    """Mon.. (Jtt, Jnn, Jtn, Alh, Ijm, Jms, Jpl), Monday 0."""
    return str(WEEKDAY_SHORT[weekday])
