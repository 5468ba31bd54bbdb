"""Dates and times as people in Kenya read them, in one place: "30 Nov 2026", "Nov 2026",
"23:07" (24-hour), "30 Nov 2026, 23:07", in the user's language (Swahili months from Babel's
``sw``: "30 Des 2026"). Never an ISO date, an ISO month or a date in numbers only, which a
phone set to US English and a Kenyan reader take for different days.

Screens (the Jinja filters ``day``, ``month``, ``time``, ``moment``, registered in
``create_app``) and PDFs use these. Machine-readable exports (CSV, XLSX, ICS, JSON) keep ISO.
"""

import re
from datetime import UTC, date, datetime
from datetime import time as clock
from functools import cache

from babel.dates import format_date, get_month_names
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_babel.speaklater import LazyString

from association.core.time import NAIROBI
from association.errors import DomainError

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


def day(value: date | datetime | str | None) -> str:
    """30 Nov 2026, from a date, a YYYY-MM-DD text (a link's argument) or a datetime (taken
    as naive UTC and shown on Nairobi's calendar); text that is no date is left as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return _format(_in_nairobi(value).date(), DAY)
    return _format(value, DAY)


def month(value: date | str | None) -> str:
    """Nov 2026 (Swahili: Des 2026), from a date or a month written YYYY-MM."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:7] + "-01")
    return _format(value, MONTH)


def time(value: clock | datetime | None) -> str:
    """23:07: a wall-clock time as stored (a shift's start, a meeting's); a stored moment
    (naive UTC) goes through :func:`moment`."""
    return "" if value is None else value.strftime("%H:%M")


def moment(value: datetime | None) -> str:
    """30 Nov 2026, 23:07: a stored (naive UTC) moment, in Nairobi."""
    if value is None:
        return ""
    local = _in_nairobi(value)
    return f"{_format(local.date(), DAY)}, {local:%H:%M}"


def wall_moment(value: datetime | None) -> str:
    """30 Nov 2026, 23:07: a Nairobi wall-clock time stored as such (a shift's start)."""
    if value is None:
        return ""
    return f"{_format(value.date(), DAY)}, {value:%H:%M}"


def _format(value: date, pattern: str) -> str:
    """``value`` in the page's language without its territory: plain English writes
    September "Sep" (as receipts and SMS do), where Babel's en_KE writes "Sept"."""
    from association.i18n import current_language

    return format_date(value, pattern, locale=current_language())


def _in_nairobi(value: datetime) -> datetime:
    """A stored moment (naive UTC, or aware) on Nairobi's clock."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(NAIROBI)


def period(start: date, end: date) -> str:
    """1 Jan 2026 - 30 Nov 2026."""
    return f"{day(start)} - {day(end)}"


def day_example() -> str:
    """A day written the Kenyan way in the reader's language ("7 Dec 2026", "7 Des 2026"),
    for the placeholder of a date box. A function, not a filter on a literal: Jinja would
    fold that into the template once, in the first reader's language."""
    return day(date(2026, 12, 7))


def weekday_short(weekday: int) -> str:
    """Mon.. (Jtt, Jnn, Jtn, Alh, Ijm, Jms, Jpl), Monday 0."""
    return str(WEEKDAY_SHORT[weekday])


# --- Reading dates people type ------------------------------------------------------------


class DayError(DomainError):
    """Not a date a person in Kenya would write, or one that reads two ways."""


_NUMERIC = re.compile(r"^(\d{1,4})\s*([/.\-])\s*(\d{1,2})\s*[/.\-]\s*(\d{2,4})$")
_WORDS = re.compile(r"^(\d{1,2})\s*(?:st|nd|rd|th)?\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})$")


@cache
def _month_numbers() -> dict[str, int]:
    """Month names and abbreviations, English and Swahili (Babel's), lower case -> 1-12."""
    numbers = {}
    for language in ("en", "sw"):
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, locale=language).items():
                numbers[name.lower().rstrip(".")] = number
    numbers["sept"] = 9
    return numbers


def parse_day(text: str | None) -> date | None:
    """A date as people in Kenya write it, day first: "7 Dec 2026", "7 Desemba 2026",
    "7/12/2026", "7-12-2026", "7.12.2026", or as a browser sends it, 2026-12-07. None
    when blank.

    Raises:
        DayError: not a date, a day that does not exist, a two-digit year (07-12-26 reads
            three ways), or month-first (11/30/2026), which a Kenyan reader would take for
            another day.
    """
    text = " ".join((text or "").split())
    if not text:
        return None
    value = None
    if match := _NUMERIC.match(text):
        first, separator, second, third = match.groups()
        if len(first) == 4:  # 2026-12-07: year first, as browsers and files send it
            if separator != "-" or len(third) > 2:
                raise _not_a_date(text)
            year, month_no, day_no = int(first), int(second), int(third)
        elif len(first) <= 2:
            if len(third) == 2:  # 07-12-26: which is the year?
                raise DayError(_l("%(value)s: write the year in full, e.g. %(example)s.",
                                  value=text[:20], example=f"{first}/{second}/20{third}"))
            if len(third) != 4:
                raise _not_a_date(text)
            day_no, month_no, year = int(first), int(second), int(third)
            if month_no > 12 and day_no <= 12:
                raise DayError(_l(
                    "%(value)s reads month first. Write the day first, e.g. %(example)s.",
                    value=text[:20], example=f"{month_no}/{day_no}/{year}"))
        else:
            raise _not_a_date(text)
        value = _checked(year, month_no, day_no, text)
    elif match := _WORDS.match(text):
        number = _month_numbers().get(match.group(2).lower())
        if number is None:
            raise _not_a_date(text)
        value = _checked(int(match.group(3)), number, int(match.group(1)), text)
    else:
        raise _not_a_date(text)
    return value


def _checked(year: int, month_no: int, day_no: int, text: str) -> date:
    try:
        value = date(year, month_no, day_no)
    except ValueError:
        raise DayError(_l("%(value)s is not a day of the calendar.",
                          value=text[:20])) from None
    if not 1900 <= value.year <= 2999:
        raise DayError(_l("%(value)s is outside the years this app can record.",
                          value=text[:20]))
    return value


def _not_a_date(text: str) -> DayError:
    return DayError(_l("%(value)s is not a date. Write the day first, e.g. %(example)s or "
                       "7/12/2026.", value=text[:20],
                       example=LazyString(day, date(2026, 12, 7))))
