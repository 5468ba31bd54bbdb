"""Shift templates: the shifts each zone holds on each night of the week (e.g. Friday
21:00-01:00 in Zone A), from which every month's roster is made, and the names of the
nights of the week.

Times are Nairobi wall-clock times. A night is the date of its evening, so a shift
that crosses midnight belongs to the night it starts; see
:func:`association.patrols.roster_generator.shift_times`.
"""

from datetime import date, time

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.extensions import db
from association.members.models import Zone
from association.patrols import roster_generator as gen
from association.patrols.errors import PatrolError
from association.patrols.models import PatrolZone, ShiftTemplate

#: The longest shift accepted, in hours.
MAX_SHIFT_HOURS = 12


WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))


def weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday])


def shift_hours(start: time, end: time) -> float:
    starts_at, ends_at = gen.shift_times(date(2026, 1, 5), start, end)
    return (ends_at - starts_at).total_seconds() / 3600


def check_shift_times(start: time | None, end: time | None) -> None:
    """Raises PatrolError unless ``start``-``end`` is a shift of 30 minutes to 12 hours."""
    if start is None or end is None:
        raise PatrolError(_l("Give the start and the end of the shift, e.g. 21:00 and 01:00."))
    if start == end:
        raise PatrolError(_l("The shift ends when it starts."))
    hours = shift_hours(start, end)
    if hours > MAX_SHIFT_HOURS:
        raise PatrolError(_l(
            "The shift %(start)s-%(end)s ends before it starts (it would last %(hours)s "
            "hours). A shift lasts at most %(max)d hours; one that crosses midnight, like "
            "21:00-01:00, is fine.", start=start.strftime("%H:%M"), end=end.strftime("%H:%M"),
            hours=f"{hours:g}", max=MAX_SHIFT_HOURS))
    if hours < 0.5:
        raise PatrolError(_l("A shift lasts at least 30 minutes."))


def templates(zone_id: int | None = None, active_only: bool = True) -> list[ShiftTemplate]:
    stmt = sa.select(ShiftTemplate).options(selectinload(ShiftTemplate.zone))
    if zone_id is not None:
        stmt = stmt.where(ShiftTemplate.zone_id == zone_id)
    if active_only:
        stmt = stmt.where(ShiftTemplate.active.is_(True))
    return list(db.session.scalars(stmt.order_by(ShiftTemplate.zone_id, ShiftTemplate.weekday,
                                                 ShiftTemplate.start_minute)))


def add_templates(zone: Zone, weekdays: list[int], start: time, end: time) -> list[ShiftTemplate]:
    """Add the shift ``start``-``end`` in ``zone`` on each of ``weekdays`` (Monday 0).

    Raises:
        PatrolError: bad times, no weekday, or a shift overlapping one the zone has that night.
    """
    check_shift_times(start, end)
    days = sorted(set(weekdays or []))
    if not days or any(d not in range(7) for d in days):
        raise PatrolError(_l("Choose at least one night of the week."))
    new_from, new_to = gen.shift_times(date(2026, 1, 5), start, end)
    made = []
    for weekday in days:
        for other in templates(zone.id):
            if other.weekday != weekday:
                continue
            o_from, o_to = gen.shift_times(date(2026, 1, 5), other.start_time, other.end_time)
            if new_from < o_to and o_from < new_to:
                raise PatrolError(_l(
                    "%(zone)s already has the shift %(start)s-%(end)s on %(day)s nights, which "
                    "overlaps this one.", zone=zone.name, day=weekday_name(weekday),
                    start=other.start_time.strftime("%H:%M"),
                    end=other.end_time.strftime("%H:%M")))
        template = ShiftTemplate(zone_id=zone.id, weekday=weekday, start_time=start,
                                 end_time=end, active=True)
        db.session.add(template)
        made.append(template)
    if db.session.get(PatrolZone, zone.id) is None:
        db.session.add(PatrolZone(zone_id=zone.id, min_per_shift=2, active=True))
    db.session.flush()
    return made


def retire_template(template: ShiftTemplate) -> None:
    """Stop using a shift template; shifts already rostered from it stay."""
    template.active = False
    db.session.flush()
