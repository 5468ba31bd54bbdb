"""Patrol fixtures: two zones with night shifts, and volunteers enrolled from the register."""

from datetime import date, datetime, time, timedelta

import pytest

from association.audit.services import acting_as
from association.core.time import month_end, month_start, today_in_nairobi
from association.extensions import db
from association.members.models import Member, Zone
from association.patrols import patrollers, shifts
from association.patrols.models import Patroller, ShiftTemplate
from tests.conftest import member_data

EVENING = (time(21), time(1))
LATE = (time(1), time(5))


def next_month() -> date:
    return month_start(month_end(today_in_nairobi()) + timedelta(days=1))


def last_month() -> date:
    return month_start(month_start(today_in_nairobi()) - timedelta(days=1))


def add_volunteers(zone_id: int, n: int, places=None, **kw) -> list[Patroller]:
    """Register ``n`` members and enrol them, available every night in ``zone_id``."""
    from association.members.services import register_member

    made = []
    for _ in range(n):
        member = register_member(member_data(zone_id))
        p = patrollers.enrol(member, **kw)
        patrollers.set_availability(p, places if places is not None else
                                  {(d, zone_id) for d in range(7)})
        made.append(p)
    return made


class Patrols:
    """What :func:`patrols` made (ids, so they survive sessions)."""


@pytest.fixture
def patrol_ids(app, setup_association):
    """Zone 1 and zone 2 with a 21:00-01:00 and a 01:00-05:00 shift every night, minimum two;
    ten volunteers in zone 1 and four in zone 2 (committed; ids only, no context kept)."""
    with app.app_context(), acting_as("test"):
        made = Patrols()
        zone1 = db.session.get(Zone, setup_association.zone_id)
        zone2 = db.session.get(Zone, setup_association.zone2_id)
        for zone in (zone1, zone2):
            shifts.add_templates(zone, list(range(7)), *EVENING)
            shifts.add_templates(zone, list(range(7)), *LATE)
        made.zone1_id, made.zone2_id = zone1.id, zone2.id
        made.v1_ids = [p.id for p in add_volunteers(zone1.id, 10)]
        made.v2_ids = [p.id for p in add_volunteers(zone2.id, 4)]
        db.session.commit()
    return made


@pytest.fixture
def patrols(app, patrol_ids):
    """The same, loaded in an app context for calling services directly."""
    with app.app_context(), acting_as("test"):
        made = Patrols()
        made.zone1 = db.session.get(Zone, patrol_ids.zone1_id)
        made.zone2 = db.session.get(Zone, patrol_ids.zone2_id)
        made.v1 = [db.session.get(Patroller, i) for i in patrol_ids.v1_ids]
        made.v2 = [db.session.get(Patroller, i) for i in patrol_ids.v2_ids]
        yield made
        db.session.rollback()


def template_of(zone_id: int, weekday: int, start: time) -> ShiftTemplate:
    return db.session.scalar(db.select(ShiftTemplate).where(
        ShiftTemplate.zone_id == zone_id, ShiftTemplate.weekday == weekday,
        ShiftTemplate.start_minute == start.hour * 60 + start.minute))


def long_ago() -> datetime:
    return datetime(2000, 1, 1)


def member_of(p: Patroller) -> Member:
    return db.session.get(Member, p.member_id)
