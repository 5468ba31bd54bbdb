"""The association's clock: Nairobi time, and the month arithmetic every area uses.

Times are stored as naive UTC; days and months are the association's, in the zone of
the ``TIMEZONE`` setting (Africa/Nairobi), read once here. Safaricom's wire format is
East Africa Time whatever that setting says: ``MPESA_ZONE``.
"""

import calendar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from association.errors import DomainError
from config import Config

#: The association's zone, from the TIMEZONE setting.
NAIROBI = ZoneInfo(Config.TIMEZONE)
#: Daraja timestamps and M-Pesa statements are written in East Africa Time.
MPESA_ZONE = ZoneInfo("Africa/Nairobi")


class MonthError(DomainError):
    """Not a month written as YYYY-MM."""


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def today_in_nairobi() -> date:
    """Today where the association is. The server's clock may be on UTC, three hours
    behind: from 21:00 UTC its ``date.today()`` is still yesterday in Nairobi."""
    return datetime.now(NAIROBI).date()


def now_in_nairobi() -> datetime:
    """Nairobi wall-clock time now, without tzinfo (as shift times are stored)."""
    return datetime.now(NAIROBI).replace(tzinfo=None)


def nairobi_date(moment: datetime) -> date:
    """The Nairobi calendar day of a naive-UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(NAIROBI).date()


def to_utc(local: datetime, zone: ZoneInfo = NAIROBI) -> datetime:
    """A naive wall-clock time in ``zone`` as stored: naive UTC."""
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def utc_start(day: date) -> datetime:
    """Midnight in Nairobi at the start of ``day``, as stored (naive UTC)."""
    return to_utc(datetime.combine(day, time.min))


# --- Months -------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after (before, when negative) ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_year_start(day: date, first_month: int) -> date:
    """The first day of the financial year, starting on the 1st of ``first_month``,
    that contains ``day``."""
    year = day.year if day.month >= first_month else day.year - 1
    return date(year, first_month, 1)


def month_nights(month: date) -> list[date]:
    """Every day of ``month``'s month."""
    days = calendar.monthrange(month.year, month.month)[1]
    return [date(month.year, month.month, d) for d in range(1, days + 1)]


def parse_month(text: str) -> date:
    """ "2026-03" -> date(2026, 3, 1).

    Raises:
        MonthError: not a month written as YYYY-MM.
    """
    try:
        year, month = str(text).strip().split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise MonthError(_l("%(value)s is not a month. Write it as YYYY-MM, e.g. 2026-03.",
                            value=str(text)[:20])) from None

