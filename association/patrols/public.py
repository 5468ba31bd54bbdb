"""Aggregate patrol figures for the transparency page: counts only, never names or details."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.charts import Chart, Series, bar_chart
from association.core.time import add_months
from association.extensions import db
from association.members.models import Zone
from association.patrols.models import (
    Assignment,
    Attendance,
    Incident,
    IncidentCategory,
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


def _staffing(start: date, end: date):
    """(night -> planned shift templates, ``is_staffed(night, template)``) for the nights
    ``start`` to ``end`` from the first rostered night on: a shift is staffed when it has
    at least its zone's minimum of patrollers rostered and not marked absent or excused."""
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
    first = db.session.scalar(sa.select(sa.func.min(Assignment.night)))
    nights = planned_shifts(max(start, first), end) if first is not None else {}

    def is_staffed(night: date, template: ShiftTemplate) -> bool:
        return staffed[(night, template.id)] >= minimum.get(template.zone_id, 2)

    return nights, is_staffed


def coverage_by_zone(start: date, end: date) -> list[tuple[str, int, int]]:
    """(zone name, nights covered, nights planned) for each active patrol zone, by name.

    A zone's night is planned when the zone has a shift that weekday, and covered when
    every one of its shifts that night is staffed (the rule of :func:`public_summary`).
    """
    zones = dict(db.session.execute(
        sa.select(Zone.id, Zone.name).join(PatrolZone, PatrolZone.zone_id == Zone.id)
        .where(PatrolZone.active.is_(True))).all())
    planned = dict.fromkeys(zones, 0)
    covered = dict.fromkeys(zones, 0)
    if end >= start:
        nights, is_staffed = _staffing(start, end)
        for night, templates in nights.items():
            by_zone = defaultdict(list)
            for template in templates:
                by_zone[template.zone_id].append(template)
            for zone_id, shifts in by_zone.items():
                if zone_id in planned:
                    planned[zone_id] += 1
                    covered[zone_id] += all(is_staffed(night, t) for t in shifts)
    return sorted(((zones[z], covered[z], planned[z]) for z in zones), key=lambda r: r[0])


def public_summary(start: date, end: date) -> dict:
    """Figures for the transparency page for the nights ``start`` to ``end`` (inclusive).

    A night is *covered* when at least one shift was planned for it and every
    planned shift (each active shift template of each active patrol zone for
    that weekday) had at least its zone's minimum of patrollers who were
    rostered and not marked absent or excused (a replacement counts). Nights
    before the first rostered night are not counted: the patrols had not started.

    Returns:
        ``{"nights_covered": int, "nights": int,
        "incidents": {(zone_name, category_value): count}}`` for incidents that
        occurred during those nights (from noon on ``start`` to noon after ``end``).
    """
    if end < start:
        return {"nights_covered": 0, "nights": 0, "incidents": {}}
    nights, is_staffed = _staffing(start, end)
    covered = sum(1 for night, templates in nights.items()
                  if templates and all(is_staffed(night, t) for t in templates))
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


# --- Counts that cannot point at a household -------------------------------------------

#: A count below this is never shown exactly: one or two incidents in a small zone can
#: point at a household.
SMALL_COUNT = 3


@dataclass(frozen=True)
class SafeCount:
    """A count as published: exact, or only known to lie between ``low`` and ``high``.

    A cell of 1 or 2 is published as "fewer than 3" (low 1, high 2). A total that includes
    such cells is published as the range it must lie in given what is shown, so no total
    lets anyone subtract back to a small cell: everything on the table follows from the
    exact cells and the positions of the small ones.
    """

    low: int
    high: int

    @property
    def exact(self) -> bool:
        return self.low == self.high

    def __str__(self) -> str:
        if self.exact:
            return str(self.low)
        if self.high < SMALL_COUNT:
            return str(_l("fewer than %(n)d", n=SMALL_COUNT))
        return str(_l("%(low)d to %(high)d", low=self.low, high=self.high))


def safe_count(n: int) -> SafeCount:
    return SafeCount(1, SMALL_COUNT - 1) if 0 < n < SMALL_COUNT else SafeCount(n, n)


def _sum(counts) -> SafeCount:
    counts = list(counts)
    return SafeCount(sum(c.low for c in counts), sum(c.high for c in counts))


@dataclass
class IncidentTable:
    """Incident counts by zone (rows) and category (columns), with totals, safe to publish."""

    zones: list[str]
    categories: list[str]
    cells: dict[tuple[str, str], SafeCount]
    zone_totals: dict[str, SafeCount]
    category_totals: dict[str, SafeCount]
    total: SafeCount

    def cell(self, zone: str, category: str) -> SafeCount:
        return self.cells.get((zone, category), SafeCount(0, 0))

    @property
    def folded(self) -> bool:
        """Whether any count is shown only as "fewer than 3" or a range."""
        return not self.total.exact

    def __bool__(self) -> bool:
        return bool(self.cells)


def incident_table(counts: dict[tuple[str, str], int]) -> IncidentTable:
    """Fold ``{(zone, category value): n}`` into a publishable table (see :class:`SafeCount`).

    Categories keep the register's order; zones are sorted by name.
    """
    counts = {key: int(n) for key, n in counts.items() if n}
    order = {c.value: i for i, c in enumerate(IncidentCategory)}
    zones = sorted({zone for zone, _c in counts}, key=str)
    categories = sorted({str(c) for _z, c in counts}, key=lambda c: (order.get(c, 99), c))
    cells = {(zone, str(category)): safe_count(n) for (zone, category), n in counts.items()}
    zone_totals = {z: _sum(v for (zone, _c), v in cells.items() if zone == z) for z in zones}
    category_totals = {c: _sum(v for (_z, cat), v in cells.items() if cat == c)
                       for c in categories}
    return IncidentTable(zones, categories, cells, zone_totals, category_totals,
                         _sum(cells.values()))


# --- Charts ----------------------------------------------------------------------------


def coverage_chart(start: date, end: date) -> Chart:
    """Patrol nights covered against nights planned, zone by zone."""
    rows = coverage_by_zone(start, end)
    return bar_chart(
        "coverage-by-zone", _("Patrol nights covered, by zone"), [zone for zone, _c, _p in rows],
        [(_("Nights covered"), [covered for _z, covered, _p in rows]),
         (_("Nights planned"), [planned for _z, _c, planned in rows])],
        summary=_("For each zone, the nights whose shifts all have enough patrollers, "
                  "against the nights with shifts planned."))


def incidents_by_month_chart(rows: list[tuple], start: date, end: date) -> Chart:
    """Incidents month by month from ``(month "YYYY-MM", zone, category, n)`` rows (as
    :func:`association.patrols.incidents.counts` gives them): counts only, and a month's
    total as it may be published (see :class:`SafeCount`)."""
    by_month: dict[str, list[SafeCount]] = defaultdict(list)
    for month, _zone, _category, n in rows:
        by_month[month].append(safe_count(n))
    months, month = [], date(start.year, start.month, 1)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    totals = [_sum(by_month.get(f"{m:%Y-%m}", [])) for m in months]
    return bar_chart(
        "incidents-by-month", _("Incidents, by month"), [dates.month(m) for m in months],
        [Series(_("Incidents"), [t.high for t in totals], [str(t) for t in totals])],
        summary=_("The number of incidents recorded each month. No details are shown."))
