"""The patrol zones: how many patrol each shift in a zone, whether it is patrolled,
and how many active volunteers it has.

The zones themselves are the members' zones (:class:`association.members.models.Zone`);
a :class:`PatrolZone` row holds their patrol settings.
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.extensions import db
from association.members.models import Zone
from association.patrols.errors import PatrolError
from association.patrols.models import Availability, Patroller, PatrolZone


def zone_settings() -> list[tuple[Zone, PatrolZone | None, int]]:
    """Every zone, its patrol settings (None: not patrolled yet) and its active volunteers."""
    volunteers = dict(db.session.execute(
        sa.select(Availability.zone_id, sa.func.count(sa.distinct(Availability.patroller_id)))
        .join(Patroller, Patroller.id == Availability.patroller_id)
        .where(Patroller.active.is_(True)).group_by(Availability.zone_id)
    ).all())
    rows = db.session.execute(
        sa.select(Zone, PatrolZone).outerjoin(PatrolZone, PatrolZone.zone_id == Zone.id)
        .order_by(Zone.name)
    ).all()
    return [(zone, pz, volunteers.get(zone.id, 0)) for zone, pz in rows]


def zone_volunteers(zone_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Availability.patroller_id)))
        .join(Patroller, Patroller.id == Availability.patroller_id)
        .where(Patroller.active.is_(True), Availability.zone_id == zone_id)
    )


def save_zone_settings(zone: Zone, min_per_shift: int, max_per_shift: int | None,
                       active: bool) -> PatrolZone:
    """Set how many patrol each shift in ``zone``.

    Raises:
        PatrolError: a minimum below two, a maximum below the minimum, or a minimum
            above two that more than the zone's volunteers would be needed for.
    """
    if not isinstance(min_per_shift, int) or min_per_shift < 2:
        raise PatrolError(_l("At least two patrol together: nobody patrols alone. Set the "
                             "minimum to 2 or more."))
    if min_per_shift > 50:
        raise PatrolError(_l("A minimum of %(n)d per shift is more than any zone can "
                             "need.", n=min_per_shift))
    if max_per_shift is not None and max_per_shift < min_per_shift:
        raise PatrolError(_l("The maximum (%(max)d) cannot be below the minimum (%(min)d).",
                             max=max_per_shift, min=min_per_shift))
    volunteers = zone_volunteers(zone.id)
    if min_per_shift > 2 and min_per_shift > volunteers:
        raise PatrolError(_l("Only %(n)d volunteers patrol in %(zone)s, so a minimum of "
                             "%(min)d per shift can never be met. Enrol more volunteers "
                             "first, or lower the minimum.",
                             n=volunteers, zone=zone.name, min=min_per_shift))
    row = db.session.get(PatrolZone, zone.id)
    if row is None:
        row = PatrolZone(zone_id=zone.id)
        db.session.add(row)
    row.min_per_shift = min_per_shift
    row.max_per_shift = max_per_shift
    row.active = bool(active)
    db.session.flush()
    return row


def zone_names() -> dict[int, str]:
    """Zone id -> name."""
    return dict(db.session.execute(sa.select(Zone.id, Zone.name)).all())
