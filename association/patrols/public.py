"""Aggregate patrol figures for the transparency page: counts only, never names or details."""

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from association.extensions import db
from association.members.models import Zone
from association.patrols.models import (
    Assignment,
    Attendance,
    Incident,
    PatrolZone,
    ShiftTemplate,
)

#: Attendance that means somebody was (or is rostered to be) on the shift.
STAFFED = (None, Attendance.PRESENT, Attendance.REPLACED)


def planned_shifts(start: date, end: date) -> dict[date, list[ShiftTemplate]]:
    """Night -> the shift templates planned for it: active templates of active patrol zones."""
    templates = db.session.scalars(
        sa.select(ShiftTemplate)
        .join(PatrolZone, PatrolZone.zone_id == ShiftTemplate.zone_id)
        .where(ShiftTemplate.active.is_(True), PatrolZone.active.is_(True))
    ).all()
    by_weekday: dict[int, list[ShiftTemplate]] = defaultdict(list)
    for template in templates:
        by_weekday[template.weekday].append(template)
    nights = {}
    day = start
    while day <= end:
        nights[day] = by_weekday.get(day.weekday(), [])
        day += timedelta(days=1)
    return nights


def public_summary(start: date, end: date) -> dict:
    """Figures for the transparency page for the nights ``start`` to ``end`` (inclusive).

    A night is *covered* when at least one shift was planned for it and every
    planned shift (each active shift template of each active patrol zone for
    that weekday) had at least its zone's minimum of patrollers who were
    rostered and not marked absent or excused (a replacement counts).

    Returns:
        ``{"nights_covered": int, "nights": int,
        "incidents": {(zone_name, category_value): count}}`` for incidents that
        occurred during those nights (from noon on ``start`` to noon after ``end``).
    """
    if end < start:
        return {"nights_covered": 0, "nights": 0, "incidents": {}}
    minimum = dict(db.session.execute(
        sa.select(PatrolZone.zone_id, PatrolZone.min_per_shift)
    ).all())
    staffed = Counter(
        (night, template_id)
        for night, template_id, attendance in db.session.execute(
            sa.select(Assignment.night, Assignment.template_id, Assignment.attendance)
            .where(Assignment.night.between(start, end))
        )
        if attendance in STAFFED
    )
    nights = planned_shifts(start, end)
    covered = sum(
        1 for night, templates in nights.items()
        if templates and all(staffed[(night, t.id)] >= minimum.get(t.zone_id, 2)
                             for t in templates)
    )
    incidents = {
        (zone_name, category.value): count
        for zone_name, category, count in db.session.execute(
            sa.select(Zone.name, Incident.category, sa.func.count(Incident.id))
            .join(Zone, Zone.id == Incident.zone_id)
            .where(Incident.occurred_at >= datetime.combine(start, time(12)),
                   Incident.occurred_at < datetime.combine(end + timedelta(days=1), time(12)))
            .group_by(Zone.name, Incident.category)
        )
    }
    return {"nights_covered": covered, "nights": len(nights), "incidents": incidents}
