"""The patrol volunteers: enrolling members, their limits, the nights and zones they
are available for, the nights they are away, their calendar feed's secret, and
finding them (by user, by calendar token, all of them).
"""

import secrets
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from association.core import dates
from association.core.time import today_in_nairobi
from association.extensions import db
from association.members.models import Member, MemberStatus, Zone
from association.patrols.errors import PatrolError
from association.patrols.models import Availability, AwayPeriod, Patroller


def new_token() -> str:
    return secrets.token_urlsafe(32)


def enrol(member: Member, weekly_limit: int | None = None, back_to_back: bool = False,
          on: date | None = None) -> Patroller:
    """Enrol a member as a patrol volunteer (or make a former one active again).

    Raises:
        PatrolError: the member is not active, is already enrolled, or a bad weekly limit.
    """
    if member is None:
        raise PatrolError(_l("Choose the member to enrol."))
    if member.status != MemberStatus.ACTIVE:
        raise PatrolError(_l("%(name)s is not an active member, so cannot patrol.",
                             name=member.full_name))
    _check_limit(weekly_limit)
    existing = db.session.scalar(sa.select(Patroller).where(Patroller.member_id == member.id))
    if existing is not None:
        if existing.active:
            raise PatrolError(_l("%(name)s is already a patrol volunteer.",
                                 name=member.full_name))
        existing.active = True
        existing.weekly_limit = weekly_limit
        existing.back_to_back = bool(back_to_back)
        db.session.flush()
        return existing
    patroller = Patroller(member_id=member.id, active=True, weekly_limit=weekly_limit,
                          back_to_back=bool(back_to_back), ical_token=new_token(),
                          enrolled_on=on or today_in_nairobi())
    db.session.add(patroller)
    db.session.flush()
    return patroller


def _check_limit(weekly_limit: int | None) -> None:
    if weekly_limit is not None and not 1 <= weekly_limit <= 7:
        raise PatrolError(_l("The weekly limit is between 1 and 7 shifts (leave it empty for "
                             "no limit)."))


def update_patroller(patroller: Patroller, active: bool, weekly_limit: int | None,
                     back_to_back: bool) -> Patroller:
    """Change a volunteer's limits, or stop them patrolling (their past shifts stay)."""
    _check_limit(weekly_limit)
    patroller.active = bool(active)
    patroller.weekly_limit = weekly_limit
    patroller.back_to_back = bool(back_to_back)
    db.session.flush()
    return patroller


def set_availability(patroller: Patroller, places: set[tuple[int, int]]) -> None:
    """Replace the nights and zones ``patroller`` is regularly available for.

    Args:
        places: (weekday, zone id) pairs, Monday 0.

    Raises:
        PatrolError: an unknown zone or weekday.
    """
    zone_ids = set(db.session.scalars(sa.select(Zone.id)))
    for weekday, zone_id in places:
        if weekday not in range(7) or zone_id not in zone_ids:
            raise PatrolError(_l("Choose nights of the week and zones from the list."))
    current = {(a.weekday, a.zone_id): a for a in patroller.availability}
    for key, row in current.items():
        if key not in places:
            patroller.availability.remove(row)
    for weekday, zone_id in sorted(places - set(current)):
        patroller.availability.append(Availability(weekday=weekday, zone_id=zone_id))
    db.session.flush()


def add_away(patroller: Patroller, start: date | None, end: date | None,
             reason: str | None) -> AwayPeriod:
    """Record nights ``start`` to ``end`` (inclusive) that ``patroller`` is away.

    Raises:
        PatrolError: missing dates, end before start, more than a year, in the past, or
            overlapping a period already recorded.
    """
    if start is None or end is None:
        raise PatrolError(_l("Give the first and the last night you are away."))
    if end < start:
        raise PatrolError(_l("The last night away (%(end)s) is before the first (%(start)s).",
                             start=dates.day(start), end=dates.day(end)))
    if (end - start).days > 366:
        raise PatrolError(_l("Record at most a year away at a time."))
    if end < today_in_nairobi():
        raise PatrolError(_l("Those nights are already past."))
    for other in patroller.away:
        if start <= other.end_date and other.start_date <= end:
            raise PatrolError(_l(
                "You already said you are away from %(start)s to %(end)s, which overlaps these "
                "dates. Change that period instead.", start=dates.day(other.start_date),
                end=dates.day(other.end_date)))
    reason = " ".join((reason or "").split())[:200] or None
    period = AwayPeriod(start_date=start, end_date=end, reason=reason)
    patroller.away.append(period)
    db.session.flush()
    return period


def remove_away(patroller: Patroller, away_id: int) -> None:
    """Delete one of ``patroller``'s away periods.

    Raises:
        PatrolError: no such period of theirs.
    """
    for period in patroller.away:
        if period.id == away_id:
            patroller.away.remove(period)
            db.session.flush()
            return
    raise PatrolError(_l("That away period was not found."))


def regenerate_token(patroller: Patroller) -> str:
    """A new secret for the calendar feed; the old address stops working."""
    patroller.ical_token = new_token()
    db.session.flush()
    return patroller.ical_token


def patroller_of(user) -> Patroller | None:
    """The patroller record of the logged-in user's member, if any."""
    if user is None or not getattr(user, "member_id", None):
        return None
    return db.session.scalar(sa.select(Patroller).where(Patroller.member_id == user.member_id))


def patroller_by_token(token: str) -> Patroller | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(
        sa.select(Patroller).where(Patroller.ical_token == token, Patroller.active.is_(True))
    )


def patrollers(active_only: bool = False) -> list[Patroller]:
    stmt = (sa.select(Patroller).join(Member, Member.id == Patroller.member_id)
            .options(selectinload(Patroller.member), selectinload(Patroller.availability),
                     selectinload(Patroller.away)).order_by(Member.seq))
    if active_only:
        stmt = stmt.where(Patroller.active.is_(True))
    return list(db.session.scalars(stmt))
