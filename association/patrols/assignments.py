"""One patroller on one shift: the rules that decide whether they may take it (hard
rules refuse, soft ones need the coordinator), and the coordinator putting them on it
or taking them off.

The same rules decide swaps (:mod:`association.patrols.swaps`); the generator
(:mod:`association.patrols.roster_generator`) applies them to a whole month.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from association.core import dates
from association.core.time import now_in_nairobi
from association.extensions import db
from association.members.models import MemberStatus
from association.patrols import roster_generator as gen
from association.patrols.errors import IneligibleError, PatrolError
from association.patrols.models import (
    Assignment,
    Attendance,
    Patroller,
    PatrolZone,
    ShiftTemplate,
    Swap,
)
from association.patrols.shifts import weekday_name


@dataclass
class Problems:
    """What stops a patroller taking a shift: hard problems refuse, soft ones need the
    coordinator."""

    hard: list
    soft: list


def rule_problems(patroller: Patroller, night: date, template: ShiftTemplate,
                  ignore_assignment_id: int | None = None) -> Problems:
    """Check ``patroller`` against every rule for ``template``'s shift on ``night``."""
    hard, soft = [], []
    name = patroller.member.full_name
    starts_at, ends_at = gen.shift_times(night, template.start_time, template.end_time)
    if not patroller.active or patroller.member.status != MemberStatus.ACTIVE:
        hard.append(_l("%(name)s is not an active patrol volunteer.", name=name))
    for period in patroller.away:
        if period.start_date <= night <= period.end_date:
            hard.append(_l("%(name)s is away that night.", name=name))
    around = db.session.scalars(
        sa.select(Assignment).where(
            sa.or_(Assignment.patroller_id == patroller.id,
                   Assignment.replaced_by_id == patroller.id),
            Assignment.night.between(night - timedelta(days=7), night + timedelta(days=7)),
        )
    ).all()
    around = [a for a in around if a.id != ignore_assignment_id
              and a.attendance not in (Attendance.ABSENT, Attendance.EXCUSED)
              and not (a.attendance == Attendance.REPLACED and a.patroller_id == patroller.id)]
    for a in around:
        if a.night == night and a.template_id == template.id:
            hard.append(_l("%(name)s is already on that shift.", name=name))
        elif a.starts_at < ends_at and starts_at < a.ends_at:
            hard.append(_l("%(name)s is already on an overlapping shift (%(zone)s, %(start)s).",
                           name=name, zone=a.zone.name,
                           start=dates.wall_moment(a.starts_at)))
    if (night.weekday(), template.zone_id) not in {(a.weekday, a.zone_id)
                                                    for a in patroller.availability}:
        soft.append(_l("%(name)s is not usually available in %(zone)s on %(day)s nights.",
                       name=name, zone=template.zone.name, day=weekday_name(night.weekday())))
    nights = {a.night for a in around}
    if not patroller.back_to_back and ({night - timedelta(days=1), night + timedelta(days=1)}
                                       & nights):
        soft.append(_l("%(name)s would patrol two nights in a row (the rest rule).", name=name))
    week = gen.week_of(night)
    in_week = sum(1 for a in around if gen.week_of(a.night) == week)
    if patroller.weekly_limit is not None and in_week >= patroller.weekly_limit:
        soft.append(_l("%(name)s would go over their limit of %(n)d shifts that week.",
                       name=name, n=patroller.weekly_limit))
    return Problems(hard, soft)


def check_future(night: date, template: ShiftTemplate, now: datetime | None = None) -> None:
    starts_at, _ = gen.shift_times(night, template.start_time, template.end_time)
    if starts_at <= (now or now_in_nairobi()):
        raise PatrolError(_l("That shift has already started; record what happened under "
                             "attendance instead."))


def _template_on(template: ShiftTemplate | None, night: date | None) -> ShiftTemplate:
    if template is None or night is None:
        raise PatrolError(_l("Choose the night and the shift."))
    if template.weekday != night.weekday():
        raise PatrolError(_l("That shift is not held on %(day)s nights.",
                             day=weekday_name(night.weekday())))
    return template


def assign(night: date | None, template: ShiftTemplate | None, patroller: Patroller | None,
           now: datetime | None = None) -> tuple[Assignment, list]:
    """The coordinator puts ``patroller`` on a shift; returns it and any soft-rule warnings.

    Raises:
        PatrolError: the shift has begun, no such shift that night, or the shift is full.
        IneligibleError: a hard rule (away, inactive, overlapping, already on it).
    """
    template = _template_on(template, night)
    if patroller is None:
        raise PatrolError(_l("Choose the patroller."))
    check_future(night, template, now)
    problems = rule_problems(patroller, night, template)
    if problems.hard:
        raise IneligibleError(problems.hard[0])
    pz = db.session.get(PatrolZone, template.zone_id)
    on_shift = db.session.scalar(sa.select(sa.func.count(Assignment.id)).where(
        Assignment.night == night, Assignment.template_id == template.id))
    if pz is not None and pz.max_per_shift is not None and on_shift >= pz.max_per_shift:
        raise PatrolError(_l("That shift already has its maximum of %(n)d patrollers.",
                             n=pz.max_per_shift))
    starts_at, ends_at = gen.shift_times(night, template.start_time, template.end_time)
    assignment = Assignment(night=night, template_id=template.id, zone_id=template.zone_id,
                            starts_at=starts_at, ends_at=ends_at, patroller_id=patroller.id,
                            manual=True)
    db.session.add(assignment)
    db.session.flush()
    return assignment, problems.soft


def unassign(assignment: Assignment, now: datetime | None = None) -> None:
    """The coordinator takes someone off a shift that has not started.

    Raises:
        PatrolError: the shift has started.
    """
    check_future(assignment.night, assignment.template, now)
    for swap in db.session.scalars(sa.select(Swap).where(Swap.assignment_id == assignment.id)):
        db.session.delete(swap)
    db.session.delete(assignment)
    db.session.flush()


def shift_assignments(night: date, template_id: int) -> list[Assignment]:
    return list(db.session.scalars(
        sa.select(Assignment).where(Assignment.night == night,
                                    Assignment.template_id == template_id)
        .order_by(Assignment.id)))
