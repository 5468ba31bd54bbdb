"""Every rule and every write of the patrols: settings, patrollers, rosters, swaps, attendance.

Times are Nairobi wall-clock times. A night is the date of its evening; see
:func:`association.patrols.roster_generator.shift_times`.
"""

import csv
import io
import itertools
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from association.core.db import one_row
from association.core.money import MAX_CENTS
from association.core.time import month_nights, now_in_nairobi, today_in_nairobi, utcnow
from association.errors import DomainError
from association.extensions import db
from association.members.models import Member, MemberStatus, Zone
from association.patrols import roster_generator as gen
from association.patrols.models import (
    Assignment,
    Attendance,
    Availability,
    AwayPeriod,
    Patroller,
    PatrolSettings,
    PatrolZone,
    Roster,
    ShiftTemplate,
    Swap,
    SwapStatus,
)

#: The longest shift accepted, in hours.
MAX_SHIFT_HOURS = 12
#: How far ahead a roster may be generated, in months.
MAX_MONTHS_AHEAD = 12


class PatrolError(DomainError):
    """A patrol rule was broken; nothing was written."""


class IneligibleError(PatrolError):
    """The patroller cannot take that shift under the hard rules."""


WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))


def weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday])


# --- Settings ---------------------------------------------------------------


def settings() -> PatrolSettings:
    """The one settings row (id 1), created on first use."""
    return one_row(db.session, PatrolSettings, stipend_cents=0)


def set_stipend_rate(amount_cents: int) -> PatrolSettings:
    """Set what one attended shift pays.

    Raises:
        PatrolError: a negative or absurd amount.
    """
    if not isinstance(amount_cents, int) or not 0 <= amount_cents <= 100_000_00:
        raise PatrolError(_l("The stipend for a shift must be between KES 0 and KES 100,000."))
    row = settings()
    row.stipend_cents = amount_cents
    db.session.flush()
    return row


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


# --- Shift templates --------------------------------------------------------


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


def _night_minutes(t: time) -> int:
    """Minutes since noon, so that times after midnight sort after the evening."""
    return ((t.hour - 12) % 24) * 60 + t.minute


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


# --- Patrollers -------------------------------------------------------------


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
                             start=start.isoformat(), end=end.isoformat()))
    if (end - start).days > 366:
        raise PatrolError(_l("Record at most a year away at a time."))
    if end < today_in_nairobi():
        raise PatrolError(_l("Those nights are already past."))
    for other in patroller.away:
        if start <= other.end_date and other.start_date <= end:
            raise PatrolError(_l(
                "You already said you are away from %(start)s to %(end)s, which overlaps these "
                "dates. Change that period instead.", start=other.start_date.isoformat(),
                end=other.end_date.isoformat()))
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


# --- From the database to the generator -------------------------------------


def month_slots(month: date) -> list[gen.Slot]:
    """The month's shifts: each active template of each active patrol zone, every night."""
    rows = db.session.execute(
        sa.select(ShiftTemplate.id, ShiftTemplate.zone_id, ShiftTemplate.weekday,
                  ShiftTemplate.start_minute, ShiftTemplate.end_minute,
                  PatrolZone.min_per_shift)
        .join(PatrolZone, PatrolZone.zone_id == ShiftTemplate.zone_id)
        .where(ShiftTemplate.active.is_(True), PatrolZone.active.is_(True))
        .order_by(ShiftTemplate.zone_id, ShiftTemplate.weekday, ShiftTemplate.start_minute)
    )
    by_weekday: dict[int, list] = {}
    for template_id, zone_id, weekday, start, end, minimum in rows:
        by_weekday.setdefault(weekday, []).append(
            (template_id, zone_id, time(start // 60, start % 60), time(end // 60, end % 60),
             minimum))
    slots = []
    for night in month_nights(month):
        for template_id, zone_id, start, end, minimum in by_weekday.get(night.weekday(), ()):
            starts_at, ends_at = gen.shift_times(night, start, end)
            slots.append(gen.Slot(night, template_id, zone_id, starts_at, ends_at, minimum))
    return slots


def volunteers() -> list[gen.Volunteer]:
    """Active patrollers who are active members, as the generator sees them (by id)."""
    rows = db.session.execute(
        sa.select(Patroller.id, Patroller.weekly_limit, Patroller.back_to_back,
                  Availability.weekday, Availability.zone_id)
        .join(Member, Member.id == Patroller.member_id)
        .outerjoin(Availability, Availability.patroller_id == Patroller.id)
        .where(Patroller.active.is_(True), Member.status == MemberStatus.ACTIVE)
        .order_by(Patroller.id)
    )
    people: dict[int, tuple] = {}
    places: dict[int, set] = {}
    for pid, weekly_limit, back_to_back, weekday, zone_id in rows:
        if pid not in people:
            people[pid] = (weekly_limit, back_to_back)
            places[pid] = set()
        if weekday is not None:
            places[pid].add((weekday, zone_id))
    away: dict[int, list] = {}
    for pid, start, end in db.session.execute(
            sa.select(AwayPeriod.patroller_id, AwayPeriod.start_date, AwayPeriod.end_date)
            .order_by(AwayPeriod.patroller_id, AwayPeriod.start_date, AwayPeriod.id)):
        away.setdefault(pid, []).append((start, end))
    return [
        gen.Volunteer(pid, frozenset(places[pid]), tuple(away.get(pid, ())), weekly_limit,
                      back_to_back)
        for pid, (weekly_limit, back_to_back) in people.items()
    ]


def _window(month: date) -> tuple[date, date]:
    """The nights whose shifts matter for a month's rules (weekly limits, rest)."""
    last = month_nights(month)[-1]
    return month - timedelta(days=7), last + timedelta(days=7)


def _assignments_between(first: date, last: date) -> list[Assignment]:
    return list(db.session.scalars(
        sa.select(Assignment).where(Assignment.night.between(first, last))
        .order_by(Assignment.night, Assignment.starts_at, Assignment.id)
    ))


def _held(rows: list, month: date) -> list[gen.Fixed]:
    """Shifts held, as the generator sees them: who is (or was) on each (``rows``:
    assignments, or their :class:`ShiftRow`)."""
    held = []
    for a in rows:
        if a.attendance in (Attendance.ABSENT, Attendance.EXCUSED):
            continue
        person = a.replaced_by_id if a.attendance == Attendance.REPLACED and a.replaced_by_id \
            else a.patroller_id
        in_month = (a.night.year, a.night.month) == (month.year, month.month)
        held.append(gen.Fixed(person, a.night, a.starts_at, a.ends_at,
                              (a.night, a.template_id) if in_month else None, in_month))
    return held


def check_month(month: date) -> None:
    today = today_in_nairobi()
    ahead = (month.year - today.year) * 12 + month.month - today.month
    if ahead > MAX_MONTHS_AHEAD:
        raise PatrolError(_l("A roster can be made at most %(n)d months ahead.",
                             n=MAX_MONTHS_AHEAD))


@dataclass
class GenerateResult:
    roster: Roster
    added: int
    removed: int
    kept: int
    shortages: list


def generate_roster(month: date, user_id: int | None, keep_manual: bool = True,
                    today: date | None = None) -> GenerateResult:
    """Generate (or regenerate) the roster of ``month``.

    Nights already begun (before today) are never changed. On the other nights the
    generator's earlier work is replaced; the coordinator's own edits (and swaps) are
    kept unless ``keep_manual`` is False. Shifts that cannot be staffed are reported
    in ``shortages``, not refused.

    Raises:
        PatrolError: the month is too far ahead, or nothing to roster.
    """
    month = month.replace(day=1)
    check_month(month)
    today = today or today_in_nairobi()
    all_slots = month_slots(month)
    slots = [s for s in all_slots if s.night >= today]
    if not all_slots:
        raise PatrolError(_l("There are no shifts to roster: add shift times to the zones "
                             "first."))
    first, last = _window(month)
    rows = _assignments_between(first, last)
    removable = [
        a for a in rows
        if (a.night.year, a.night.month) == (month.year, month.month) and a.night >= today
        and a.attendance is None and (not a.manual or not keep_manual)
    ]
    removed_ids = {a.id for a in removable}
    if removed_ids:
        for swap in db.session.scalars(sa.select(Swap).where(Swap.assignment_id.in_(
                removed_ids))):
            db.session.delete(swap)
        for a in removable:
            db.session.delete(a)
        db.session.flush()
    kept = [a for a in rows if a.id not in removed_ids]
    result = gen.generate(slots, volunteers(), _held(kept, month), seed=month.isoformat())
    by_key = {s.key: s for s in slots}
    for key, vid in result.assignments:
        slot = by_key[key]
        db.session.add(Assignment(night=slot.night, template_id=slot.template_id,
                                  zone_id=slot.zone_id, starts_at=slot.starts_at,
                                  ends_at=slot.ends_at, patroller_id=vid, manual=False))
    roster = db.session.scalar(sa.select(Roster).where(Roster.month == month))
    if roster is None:
        roster = Roster(month=month)
        db.session.add(roster)
    roster.generated_at = utcnow()
    roster.generated_by_id = user_id
    db.session.flush()
    kept_in_month = sum(1 for a in kept if (a.night.year, a.night.month) ==
                        (month.year, month.month))
    return GenerateResult(roster, len(result.assignments), len(removable), kept_in_month,
                          result.shortages)


def roster_generated_at(month: date) -> datetime | None:
    """When ``month``'s roster was last generated (None: never)."""
    return db.session.scalar(sa.select(Roster.generated_at)
                             .where(Roster.month == month.replace(day=1)))


def month_assignments(month: date) -> list[Assignment]:
    nights = month_nights(month.replace(day=1))
    return list(db.session.scalars(
        sa.select(Assignment).where(Assignment.night.between(nights[0], nights[-1]))
        .options(selectinload(Assignment.patroller).selectinload(Patroller.member),
                 selectinload(Assignment.replaced_by).selectinload(Patroller.member),
                 selectinload(Assignment.zone), selectinload(Assignment.template))
        .order_by(Assignment.night, Assignment.starts_at, Assignment.zone_id, Assignment.id)
    ))


class ShiftRow(NamedTuple):
    """One assignment as the roster page and the rules read it (not an ORM object)."""

    id: int
    night: date
    template_id: int
    zone_id: int
    starts_at: datetime
    ends_at: datetime
    patroller_id: int
    manual: bool
    attendance: Attendance | None
    replaced_by_id: int | None
    #: The patroller's name, as Member.full_name.
    full_name: str


def shift_rows(first: date, last: date) -> list[ShiftRow]:
    """The assignments of nights ``first`` to ``last``, in the order of
    :func:`month_assignments`."""
    result = db.session.execute(
        sa.select(Assignment.id, Assignment.night, Assignment.template_id, Assignment.zone_id,
                  Assignment.starts_at, Assignment.ends_at, Assignment.patroller_id,
                  Assignment.manual, Assignment.attendance, Assignment.replaced_by_id,
                  Member.first_name + " " + Member.other_names)
        .join(Patroller, Patroller.id == Assignment.patroller_id)
        .join(Member, Member.id == Patroller.member_id)
        .where(Assignment.night.between(first, last))
        .order_by(Assignment.night, Assignment.starts_at, Assignment.zone_id, Assignment.id)
    )
    return list(map(ShiftRow._make, result))


def current_shortages(month: date, today: date | None = None,
                      slots: list[gen.Slot] | None = None,
                      rows: list[ShiftRow] | None = None) -> list[gen.Shortage]:
    """The month's shifts (from today on) below their minimum, with the reasons.

    Args:
        slots: the month's :func:`month_slots`, when the caller has them already.
        rows: the month's window's :func:`shift_rows` (:func:`_window`), when the caller
            has them already.
    """
    month = month.replace(day=1)
    today = today or today_in_nairobi()
    slots = [s for s in (month_slots(month) if slots is None else slots) if s.night >= today]
    if not slots:
        return []
    if rows is None:
        rows = shift_rows(*_window(month))
    # Only shifts up to a week before the first open one can count against it (the same
    # week, or the night before).
    since = min(s.night for s in slots) - timedelta(days=7)
    held = _held([a for a in rows if a.night >= since], month)
    return gen.shortages_of(slots, volunteers(), held)


class RosterShift(NamedTuple):
    """A row of the roster: one shift of one night and who is on it."""

    slot: gen.Slot
    #: The zone's name.
    zone: str
    #: Start and end, e.g. "21:00-01:00".
    times: str
    held: list[ShiftRow]
    #: Whether it is one of the shortages (from today on).
    short: bool


@dataclass
class MonthRoster:
    """A month's roster as its page shows it."""

    #: (night, its shifts by zone name then start time), by night. Shifts of templates no
    #: longer used are there while someone holds them.
    nights: list[tuple[date, list[RosterShift]]]
    shortages: list[gen.Shortage]


def _hhmm(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def month_roster(month: date, zones: dict[int, str], today: date | None = None) -> MonthRoster:
    """Every shift of ``month`` with who holds it, and the shortages from ``today`` on.

    Args:
        zones: zone id -> name.
    """
    month = month.replace(day=1)
    slots = month_slots(month)
    rows = shift_rows(*_window(month))
    shortages = current_shortages(month, today, slots, rows)
    by_slot: dict[tuple, list[ShiftRow]] = {}
    keys = {slot.key for slot in slots}
    extra = []
    for a in rows:
        if (a.night.year, a.night.month) != (month.year, month.month):
            continue
        key = (a.night, a.template_id)
        by_slot.setdefault(key, []).append(a)
        if key not in keys:  # a template no longer used: its shifts still show
            keys.add(key)
            extra.append(gen.Slot(a.night, a.template_id, a.zone_id, a.starts_at, a.ends_at, 0))
    short_keys = {s.slot.key for s in shortages}
    nights: dict[date, list[RosterShift]] = {}
    for slot in slots + extra:
        key = slot.key
        nights.setdefault(slot.night, []).append(RosterShift(
            slot, zones.get(slot.zone_id, ""), f"{_hhmm(slot.starts_at)}-{_hhmm(slot.ends_at)}",
            by_slot.get(key, []), key in short_keys))
    for shifts in nights.values():
        shifts.sort(key=lambda s: (s.zone, s.slot.starts_at))
    return MonthRoster(sorted(nights.items()), shortages)


def zone_names() -> dict[int, str]:
    """Zone id -> name."""
    return dict(db.session.execute(sa.select(Zone.id, Zone.name)).all())


# --- One patroller on one shift: the rules ------------------------------------


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
                           start=a.starts_at.strftime("%Y-%m-%d %H:%M")))
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


def _check_future(night: date, template: ShiftTemplate, now: datetime | None = None) -> None:
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
    _check_future(night, template, now)
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
    _check_future(assignment.night, assignment.template, now)
    for swap in db.session.scalars(sa.select(Swap).where(Swap.assignment_id == assignment.id)):
        db.session.delete(swap)
    db.session.delete(assignment)
    db.session.flush()


def shift_assignments(night: date, template_id: int) -> list[Assignment]:
    return list(db.session.scalars(
        sa.select(Assignment).where(Assignment.night == night,
                                    Assignment.template_id == template_id)
        .order_by(Assignment.id)))


# --- Swaps --------------------------------------------------------------------


def assignment_of(patroller: Patroller, assignment_id: int) -> Assignment | None:
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.patroller_id != patroller.id:
        return None
    return assignment


def offer_shift(patroller: Patroller, assignment: Assignment, note: str | None,
                now: datetime | None = None) -> Swap:
    """``patroller`` offers their shift to the others.

    Raises:
        PatrolError: not their shift, already started, or already offered.
    """
    if assignment.patroller_id != patroller.id:
        raise PatrolError(_l("You can offer only your own shifts."))
    _check_future(assignment.night, assignment.template, now)
    open_offer = db.session.scalar(sa.select(Swap.id).where(
        Swap.assignment_id == assignment.id,
        Swap.status.in_((SwapStatus.OFFERED, SwapStatus.PENDING))))
    if open_offer is not None:
        raise PatrolError(_l("You have already offered this shift."))
    swap = Swap(assignment_id=assignment.id, offered_by_id=patroller.id,
                status=SwapStatus.OFFERED, note=" ".join((note or "").split())[:200] or None)
    db.session.add(swap)
    db.session.flush()
    return swap


def cancel_offer(patroller: Patroller, swap: Swap) -> None:
    """Withdraw an offer nobody has taken yet (or that waits for the coordinator)."""
    if swap.offered_by_id != patroller.id:
        raise PatrolError(_l("That offer is not yours."))
    if swap.status not in (SwapStatus.OFFERED, SwapStatus.PENDING):
        raise PatrolError(_l("That offer is already settled."))
    swap.status = SwapStatus.CANCELLED
    db.session.flush()


def open_offers(for_patroller: Patroller | None = None, now: datetime | None = None) -> list:
    """Shifts offered and not yet taken, that have not started."""
    now = now or now_in_nairobi()
    stmt = (sa.select(Swap).join(Assignment, Assignment.id == Swap.assignment_id)
            .where(Swap.status == SwapStatus.OFFERED, Assignment.starts_at > now)
            .options(selectinload(Swap.assignment).selectinload(Assignment.zone),
                     selectinload(Swap.offered_by).selectinload(Patroller.member))
            .order_by(Assignment.starts_at))
    if for_patroller is not None:
        stmt = stmt.where(Swap.offered_by_id != for_patroller.id)
    return list(db.session.scalars(stmt))


def _hand_over(swap: Swap, taker: Patroller) -> None:
    swap.assignment.patroller_id = taker.id
    swap.assignment.manual = True


def take_offer(taker: Patroller, swap: Swap, now: datetime | None = None) -> Swap:
    """``taker`` takes an offered shift: at once when every rule holds, otherwise it waits
    for the coordinator (rules such as availability or the rest rule); never when a hard
    rule is broken.

    Raises:
        PatrolError: not on offer, their own offer, or the shift has started.
        IneligibleError: away, inactive, on an overlapping shift or already on it.
    """
    if swap.status != SwapStatus.OFFERED:
        raise PatrolError(_l("That shift is no longer on offer."))
    if swap.offered_by_id == taker.id:
        raise PatrolError(_l("You cannot take your own shift."))
    assignment = swap.assignment
    _check_future(assignment.night, assignment.template, now)
    problems = rule_problems(taker, assignment.night, assignment.template)
    if problems.hard:
        raise IneligibleError(problems.hard[0])
    swap.taken_by_id = taker.id
    swap.taken_at = utcnow()
    if problems.soft:
        swap.status = SwapStatus.PENDING
        swap.problems = " ".join(str(p) for p in problems.soft)[:500]
    else:
        swap.status = SwapStatus.APPROVED
        swap.automatic = True
        swap.decided_at = utcnow()
        _hand_over(swap, taker)
    db.session.flush()
    return swap


def pending_swap_count() -> int:
    """How many swaps wait for the coordinator."""
    return db.session.scalar(sa.select(sa.func.count(Swap.id))
                             .where(Swap.status == SwapStatus.PENDING))


def pending_swaps() -> list[Swap]:
    return list(db.session.scalars(
        sa.select(Swap).where(Swap.status == SwapStatus.PENDING).order_by(Swap.id)
        .options(selectinload(Swap.assignment), selectinload(Swap.offered_by),
                 selectinload(Swap.taken_by))))


def decide_swap(swap: Swap, approve: bool, user_id: int | None,
                now: datetime | None = None) -> Swap:
    """The coordinator approves or refuses a swap waiting for them.

    Raises:
        PatrolError: not waiting, or the shift has started.
        IneligibleError: approving, but a hard rule is now broken.
    """
    if swap.status != SwapStatus.PENDING:
        raise PatrolError(_l("That swap is not waiting for a decision."))
    if approve:
        _check_future(swap.assignment.night, swap.assignment.template, now)
        problems = rule_problems(swap.taken_by, swap.assignment.night, swap.assignment.template)
        if problems.hard:
            raise IneligibleError(problems.hard[0])
        _hand_over(swap, swap.taken_by)
        swap.status = SwapStatus.APPROVED
    else:
        swap.status = SwapStatus.REJECTED
    swap.decided_by_id = user_id
    swap.decided_at = utcnow()
    db.session.flush()
    return swap


# --- Attendance -------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceInput:
    assignment_id: int
    status: Attendance | None
    replaced_by_id: int | None = None
    note: str | None = None


def record_attendance(night: date, entries: list[AttendanceInput], user_id: int | None,
                      now: datetime | None = None) -> int:
    """Record who turned up on the shifts of ``night``; all entries or none.

    Returns:
        How many assignments changed.

    Raises:
        PatrolError: a shift that has not started, an unknown assignment, a replacement
            missing, the same person, or already on that shift.
    """
    now = now or now_in_nairobi()
    rows = {a.id: a for a in db.session.scalars(
        sa.select(Assignment).where(Assignment.night == night))}
    changed = 0
    checked = []
    for entry in entries:
        a = rows.get(entry.assignment_id)
        if a is None:
            raise PatrolError(_l("That shift is not on this night's roster."))
        if entry.status is None:
            continue
        if a.starts_at > now:
            raise PatrolError(_l("The shift %(zone)s %(start)s has not happened yet: "
                                 "attendance can be recorded once it has started.",
                                 zone=a.zone.name, start=a.starts_at.strftime("%Y-%m-%d %H:%M")))
        replaced_by = None
        if entry.status == Attendance.REPLACED:
            replaced_by = db.session.get(Patroller, entry.replaced_by_id) \
                if entry.replaced_by_id else None
            if replaced_by is None:
                raise PatrolError(_l("Choose who replaced %(name)s.",
                                     name=a.patroller.member.full_name))
            if replaced_by.id == a.patroller_id:
                raise PatrolError(_l("Someone cannot replace themselves."))
            same_shift = {b.patroller_id for b in rows.values()
                          if b.template_id == a.template_id and b.id != a.id}
            if replaced_by.id in same_shift:
                raise PatrolError(_l("%(name)s was already on that shift.",
                                     name=replaced_by.member.full_name))
        checked.append((a, entry, replaced_by))
    _refuse_two_places_at_once(rows, checked)
    for a, entry, replaced_by in checked:
        new = (entry.status, replaced_by.id if replaced_by else None,
               " ".join((entry.note or "").split())[:200] or None)
        if (a.attendance, a.replaced_by_id, a.attendance_note) == new:
            continue
        a.attendance, a.replaced_by_id, a.attendance_note = new
        a.attendance_by_id = user_id
        a.attendance_at = utcnow()
        changed += 1
    db.session.flush()
    return changed


def _refuse_two_places_at_once(rows: dict, checked: list) -> None:
    """A replacement cannot have been on another shift of the night at the same time.

    Raises:
        PatrolError: after these entries, someone would be patrolling two overlapping
            shifts (as rostered, or as another replacement).
    """
    final = {b.id: (b.attendance, b.replaced_by_id) for b in rows.values()}
    for a, entry, replaced_by in checked:
        final[a.id] = (entry.status, replaced_by.id if replaced_by else None)

    def on_duty(b) -> int | None:
        status, replacement = final[b.id]
        if status == Attendance.REPLACED:
            return replacement
        return None if status in (Attendance.ABSENT, Attendance.EXCUSED) else b.patroller_id

    duty = sorted(((on_duty(b), b) for b in rows.values() if on_duty(b) is not None),
                  key=lambda pair: (pair[0], pair[1].starts_at))
    for (person, first), (other, second) in itertools.pairwise(duty):
        if person == other and second.starts_at < first.ends_at:
            changed = {a.id for a, _entry, _replaced_by in checked}
            later = second if second.id in changed else first
            name = db.session.get(Patroller, person).member.full_name
            elsewhere = first if later is second else second
            raise PatrolError(_l("%(name)s was on another shift at that time: %(zone)s "
                                 "from %(start)s.", name=name, zone=elsewhere.zone.name,
                                 start=elsewhere.starts_at.strftime("%H:%M")))


def attended_shifts(month: date) -> dict[int, int]:
    """Patroller id -> shifts they patrolled in ``month`` (present, or as a replacement)."""
    nights = month_nights(month.replace(day=1))
    counts: dict[int, int] = {}
    for a in db.session.scalars(sa.select(Assignment).where(
            Assignment.night.between(nights[0], nights[-1]),
            Assignment.attendance.in_((Attendance.PRESENT, Attendance.REPLACED)))):
        person = a.replaced_by_id if a.attendance == Attendance.REPLACED else a.patroller_id
        if person is not None:
            counts[person] = counts.get(person, 0) + 1
    return counts


def unrecorded_shifts(month: date, now: datetime | None = None) -> int:
    """Shifts of ``month`` that have started but have no attendance recorded."""
    nights = month_nights(month.replace(day=1))
    return db.session.scalar(sa.select(sa.func.count(Assignment.id)).where(
        Assignment.night.between(nights[0], nights[-1]), Assignment.attendance.is_(None),
        Assignment.starts_at <= (now or now_in_nairobi())))


def check_amount(amount_cents: int) -> None:
    if not 0 < amount_cents <= MAX_CENTS:
        raise PatrolError(_l("The amount must be more than zero."))


# --- Texts and exports ----------------------------------------------------------


REASON_TEXT = {
    "away": lambda n: ngettext("%(num)d away", "%(num)d away", n),
    "same_night": lambda n: ngettext("%(num)d already on another shift that night",
                                     "%(num)d already on another shift that night", n),
    "rest": lambda n: ngettext("%(num)d patrolled the night before or after (rest rule)",
                               "%(num)d patrolled the night before or after (rest rule)", n),
    "weekly_limit": lambda n: ngettext("%(num)d reached their weekly limit",
                                       "%(num)d reached their weekly limit", n),
}


def shortage_text(shortage, zones: dict) -> str:
    """One sentence: which shift is short, by how many, and why."""
    slot = shortage.slot
    head = _("%(zone)s, night of %(night)s, %(start)s-%(end)s: %(have)d of %(need)d.",
             zone=zones.get(slot.zone_id, "?"), night=slot.night.isoformat(),
             start=slot.starts_at.strftime("%H:%M"), end=slot.ends_at.strftime("%H:%M"),
             have=shortage.have, need=slot.minimum)
    if shortage.available == 0:
        return head + " " + _("No volunteer is available in this zone on %(day)s nights.",
                              day=weekday_name(slot.night.weekday()))
    parts = [REASON_TEXT[r](shortage.reasons[r]) for r in gen.REASONS if shortage.reasons.get(r)]
    text = head + " " + ngettext("%(num)d volunteer is available here that night",
                                 "%(num)d volunteers are available here that night",
                                 shortage.available)
    if not parts and shortage.available <= shortage.have:
        return text + "; " + _("all of them are already on this shift.")
    if not parts:  # free to take it: the roster is not generated yet, or they were left off
        return text + "; " + _("no rule stops them: generate the roster or assign them.")
    return text + ": " + "; ".join(parts) + "."


def export_rows(month: date) -> list[tuple]:
    """(date, shift start, shift end, zone, member number) per assignment of ``month``.

    The date is the night's; start and end are full Nairobi times, so a shift that
    crosses midnight reads correctly.
    """
    return [
        (a.night.isoformat(), a.starts_at.strftime("%Y-%m-%d %H:%M"),
         a.ends_at.strftime("%Y-%m-%d %H:%M"), a.zone.name, a.patroller.member.member_no)
        for a in month_assignments(month)
    ]


def export_csv(month: date, headers: list[str]) -> str:
    """The month's assignments as CSV text, with ``headers`` in the reader's language."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(export_rows(month))
    return out.getvalue()
