"""A month's roster as the database keeps it: generating (or regenerating) it with the
generator, reading it back night by night with its shortages, explaining a shortage in
a sentence, and exporting it as CSV.

This module turns the database into the values of the pure generator
(:mod:`association.patrols.roster_generator`: slots, volunteers, shifts held) and its
result back into :class:`Assignment` rows. Times are Nairobi wall-clock times; a night
is the date of its evening.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from association.core import dates
from association.core.time import (
    month_end,
    month_nights,
    month_start,
    now_in_nairobi,
    today_in_nairobi,
    utcnow,
)
from association.extensions import db
from association.members.models import Member, MemberStatus
from association.patrols import roster_generator as gen
from association.patrols.errors import PatrolError
from association.patrols.models import (
    Assignment,
    Attendance,
    Availability,
    AwayPeriod,
    Patroller,
    PatrolZone,
    Roster,
    ShiftTemplate,
    Swap,
)
from association.patrols.shifts import weekday_name

#: How far ahead a roster may be generated, in months.
MAX_MONTHS_AHEAD = 12


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


#: The roster's views: the whole month (to print), this week (the default: a phone's
#: screen), tonight. Each may show one zone only.
VIEWS = ("week", "tonight", "month")
#: The weeks the roster's week view may show (a week near date.max has no end).
FIRST_WEEK, LAST_WEEK = date(2000, 1, 3), date(2099, 12, 28)


def tonight(now: datetime | None = None) -> date:
    """The night (the date of its evening) a coordinator means by "tonight": before the
    late shifts end (06:00) it is still the night that began yesterday evening."""
    now = now or now_in_nairobi()
    return now.date() - timedelta(days=1) if now.time() < gen.LATE_END else now.date()


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def parse_week(text: str) -> date:
    """The Monday of the week holding the date ``text`` (YYYY-MM-DD, any day of it).

    Raises:
        PatrolError: not a date, or a week outside 2000-2099.
    """
    try:
        monday = week_start(date.fromisoformat(str(text).strip()))
    except (ValueError, OverflowError):
        monday = None
    if monday is None or not FIRST_WEEK <= monday <= LAST_WEEK:
        raise PatrolError(_l("%(value)s is not a week the roster can show. Showing this "
                             "week instead.", value=str(text)[:20]))
    return monday


def period_roster(first: date, last: date, zones: dict[int, str], zone_id: int | None = None,
                  today: date | None = None) -> MonthRoster:
    """The shifts of nights ``first`` to ``last`` (across months) with who holds them, and
    their shortages from ``today`` on; only zone ``zone_id``'s when given. Nights without a
    shift shown are left out.

    Args:
        zones: zone id -> name.
    """
    nights: list[tuple[date, list[RosterShift]]] = []
    shortages: list[gen.Shortage] = []
    month = month_start(first)
    while month <= last:
        page = month_roster(month, zones, today)
        for night, shifts in page.nights:
            kept = [s for s in shifts if zone_id is None or s.slot.zone_id == zone_id]
            if first <= night <= last and kept:
                nights.append((night, kept))
        shortages += [s for s in page.shortages if first <= s.slot.night <= last
                      and (zone_id is None or s.slot.zone_id == zone_id)]
        month = month_end(month) + timedelta(days=1)
    return MonthRoster(nights, shortages)


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
             zone=zones.get(slot.zone_id, "?"), night=dates.day(slot.night),
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
