"""The roster generator: fills every shift of a month without breaking a hard rule.

Hard rules, never broken by :func:`generate`:

* a patroller is put only on nights and zones they are available for, never on a
  night they are away;
* never on two shifts of the same night (so never on two overlapping shifts);
* never more shifts in a week (Monday to Sunday nights) than their weekly limit;
* never on two nights in a row, unless they allow back-to-back nights;
* a shift gets at most its zone's minimum from the generator (the coordinator may
  add more by hand up to the maximum).

When a shift cannot reach its minimum it is reported as short, with the reason
each available volunteer could not take it; partial staffing is kept so the
coordinator only has to find the rest.

Fairness: each place goes to the eligible volunteer with the fewest shifts this
month; ties go, for a late shift (hours after 01:00), to whoever has the fewest
late hours so far and, for an early shift, to whoever has the most; remaining
ties are broken by a hash of the month and the volunteer, so the result is the
same for the same input but nobody is favoured by their number. A final pass
moves shifts between volunteers with the same availability until their counts
differ by at most one, and trades late for early shifts between them to even
out the late hours.

This module is pure Python (no database): :mod:`association.patrols.roster`
turns the database into :class:`Slot` and :class:`Volunteer` values and back.
"""

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

#: Hours after this clock time (until LATE_END) are late-night hours.
LATE_START = time(1, 0)
LATE_END = time(6, 0)

# Reasons a volunteer cannot take a shift, most fundamental first.
NOT_AVAILABLE = "not_available"
AWAY = "away"
SAME_NIGHT = "same_night"
REST = "rest"
WEEKLY_LIMIT = "weekly_limit"
REASONS = (AWAY, SAME_NIGHT, REST, WEEKLY_LIMIT)


def shift_times(night: date, start: time, end: time) -> tuple[datetime, datetime]:
    """When a shift of ``night`` starts and ends.

    A start before noon is after midnight: the next calendar day of the same
    night. An end at or before the start is on the day after the start.
    """
    start_day = night + timedelta(days=1) if start < time(12) else night
    starts_at = datetime.combine(start_day, start)
    ends_at = datetime.combine(start_day, end)
    if ends_at <= starts_at:
        ends_at += timedelta(days=1)
    return starts_at, ends_at


def late_hours(starts_at: datetime, ends_at: datetime) -> float:
    """Hours of the shift between 01:00 and 06:00."""
    total = 0.0
    day = starts_at.date() - timedelta(days=1)
    while datetime.combine(day, LATE_START) < ends_at:
        lo = max(starts_at, datetime.combine(day, LATE_START))
        hi = min(ends_at, datetime.combine(day, LATE_END))
        if hi > lo:
            total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total


def week_of(night: date) -> tuple[int, int]:
    iso = night.isocalendar()
    return iso[0], iso[1]


@dataclass(frozen=True)
class Slot:
    """One shift of one night that needs ``minimum`` patrollers."""

    night: date
    template_id: int
    zone_id: int
    starts_at: datetime
    ends_at: datetime
    minimum: int

    @property
    def key(self) -> tuple[date, int]:
        return self.night, self.template_id

    @property
    def late(self) -> float:
        return late_hours(self.starts_at, self.ends_at)


@dataclass(frozen=True)
class Volunteer:
    """A patroller as the generator sees them."""

    id: int
    #: (weekday, zone_id) pairs they are regularly available for.
    available: frozenset
    #: (first night, last night) periods away, inclusive.
    away: tuple = ()
    weekly_limit: int | None = None
    back_to_back: bool = False

    def is_away(self, night: date) -> bool:
        return any(start <= night <= end for start, end in self.away)

    @property
    def signature(self) -> tuple:
        """Volunteers with the same signature have the same availability."""
        return (self.available, tuple(sorted(self.away)), self.weekly_limit, self.back_to_back)


@dataclass(frozen=True)
class Fixed:
    """A shift someone already holds and that the generator must keep."""

    volunteer_id: int
    night: date
    starts_at: datetime
    ends_at: datetime
    slot_key: tuple | None = None  # set when it is one of the month's slots
    #: Whether it is in the month being generated (it then counts for fairness).
    in_month: bool = True


@dataclass
class Shortage:
    """A shift left below its minimum, and why."""

    slot: Slot
    have: int
    #: Volunteers available for that zone on that weekday.
    available: int
    #: reason -> how many of them it kept off the shift.
    reasons: dict = field(default_factory=dict)


@dataclass
class Result:
    #: (slot key, volunteer id) for every new place the generator filled.
    assignments: list
    shortages: list
    #: volunteer id -> (shifts, late hours) in the month, fixed ones included.
    load: dict


class _State:
    """Who holds which nights, in which weeks, with how many shifts and late hours."""

    def __init__(self, volunteers: dict[int, Volunteer]):
        self.volunteers = volunteers
        self.nights: dict[int, Counter] = defaultdict(Counter)
        self.weeks: dict[int, Counter] = defaultdict(Counter)
        self.count: Counter = Counter()
        self.late: Counter = Counter()
        self.held: dict[tuple, list[int]] = defaultdict(list)  # slot key -> volunteer ids
        self.slots_of: dict[int, list] = defaultdict(list)  # volunteer -> slot keys generated

    def add(self, vid: int, night: date, late: float, in_month: bool = True,
            key: tuple | None = None) -> None:
        self.nights[vid][night] += 1
        self.weeks[vid][week_of(night)] += 1
        if in_month:
            self.count[vid] += 1
            self.late[vid] += late
        if key is not None:
            self.held[key].append(vid)

    def remove(self, vid: int, night: date, late: float, key: tuple) -> None:
        self.nights[vid][night] -= 1
        self.weeks[vid][week_of(night)] -= 1
        self.count[vid] -= 1
        self.late[vid] -= late
        self.held[key].remove(vid)

    def reason(self, vol: Volunteer, slot: Slot) -> str | None:
        """Why ``vol`` cannot take ``slot`` now (None: they can)."""
        night = slot.night
        if (night.weekday(), slot.zone_id) not in vol.available:
            return NOT_AVAILABLE
        if vol.is_away(night):
            return AWAY
        nights = self.nights[vol.id]
        if nights[night] > 0:
            return SAME_NIGHT
        if not vol.back_to_back and (nights[night - timedelta(days=1)] > 0
                                     or nights[night + timedelta(days=1)] > 0):
            return REST
        if vol.weekly_limit is not None and self.weeks[vol.id][week_of(night)] >= \
                vol.weekly_limit:
            return WEEKLY_LIMIT
        return None


def _tiebreak(seed: str, vid: int) -> str:
    return hashlib.sha256(f"{seed}:{vid}".encode()).hexdigest()


def generate(slots: list[Slot], volunteers: list[Volunteer], fixed: list[Fixed] = (),
             seed: str = "") -> Result:
    """Fill ``slots`` up to their minimum from ``volunteers``, keeping ``fixed`` shifts.

    Deterministic: the same input gives the same result.
    """
    vols = {v.id: v for v in volunteers}
    state = _State(vols)
    for f in fixed:
        state.add(f.volunteer_id, f.night, late_hours(f.starts_at, f.ends_at), f.in_month,
                  f.slot_key)
    ties = {vid: _tiebreak(seed, vid) for vid in vols}
    by_place: dict[tuple, list[Volunteer]] = defaultdict(list)
    for vol in sorted(vols.values(), key=lambda v: ties[v.id]):
        for place in vol.available:
            by_place[place].append(vol)

    ordered = sorted(
        slots, key=lambda s: (s.night, len(by_place[(s.night.weekday(), s.zone_id)]),
                              s.starts_at, s.zone_id, s.template_id)
    )
    assignments: list[tuple] = []
    for slot in ordered:
        need = slot.minimum - len(state.held[slot.key])
        if need <= 0:
            continue
        late = slot.late
        candidates = [v for v in by_place[(slot.night.weekday(), slot.zone_id)]
                      if state.reason(v, slot) is None]
        sign = 1 if late > 0 else -1
        candidates.sort(key=lambda v: (state.count[v.id], sign * state.late[v.id], ties[v.id]))
        for vol in candidates[:need]:
            state.add(vol.id, slot.night, late, True, slot.key)
            state.slots_of[vol.id].append(slot)
            assignments.append((slot.key, vol.id))

    _balance_counts(state, vols, by_place)
    _balance_late(state, vols)
    final = [(slot.key, vid) for vid, held in state.slots_of.items() for slot in held]
    final.sort(key=lambda pair: (pair[0], ties[pair[1]]))
    shortages = [s for s in (explain(slot, state, by_place) for slot in ordered) if s]
    load = {vid: (state.count[vid], state.late[vid]) for vid in vols}
    return Result(final, shortages, load)


def _groups(vols: dict[int, Volunteer]) -> list[list[int]]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for vol in vols.values():
        groups[vol.signature].append(vol.id)
    return [ids for ids in groups.values() if len(ids) > 1]


def _balance_counts(state: _State, vols: dict[int, Volunteer], by_place) -> None:
    """Move generated shifts from the busiest to the idlest of equally-available volunteers
    until their counts differ by at most one (when the hard rules allow it)."""
    for ids in _groups(vols):
        for _ in range(4 * len(ids) + 20):
            ids.sort(key=lambda vid: state.count[vid])
            low, high = ids[0], ids[-1]
            if state.count[high] - state.count[low] <= 1:
                break
            if not _move_one(state, vols, ids, low):
                break


def _move_one(state: _State, vols, ids: list[int], low: int) -> bool:
    """Give ``low`` a generated shift of one of the busiest in the group; True if done."""
    floor = state.count[low]
    for high in sorted(ids, key=lambda vid: -state.count[vid]):
        if state.count[high] - floor <= 1:
            return False
        for slot in list(state.slots_of[high]):
            state.remove(high, slot.night, slot.late, slot.key)
            if state.reason(vols[low], slot) is None:
                state.add(low, slot.night, slot.late, True, slot.key)
                state.slots_of[high].remove(slot)
                state.slots_of[low].append(slot)
                return True
            state.add(high, slot.night, slot.late, True, slot.key)
    return False


def _balance_late(state: _State, vols: dict[int, Volunteer]) -> None:
    """Trade a late shift of the one with most late hours for an early shift of the one with
    fewest, within each group of equally-available volunteers, while it narrows the gap."""
    for ids in _groups(vols):
        for _ in range(2 * len(ids) + 10):
            ids.sort(key=lambda vid: state.late[vid])
            low, high = ids[0], ids[-1]
            if not _trade(state, vols, low, high):
                break


def _trade(state: _State, vols, low: int, high: int) -> bool:
    gap = state.late[high] - state.late[low]
    for late_slot in [s for s in state.slots_of[high] if s.late > 0]:
        for early_slot in [s for s in state.slots_of[low] if s.late < late_slot.late]:
            diff = late_slot.late - early_slot.late
            if abs(gap - 2 * diff) >= gap:
                continue
            state.remove(high, late_slot.night, late_slot.late, late_slot.key)
            state.remove(low, early_slot.night, early_slot.late, early_slot.key)
            if state.reason(vols[low], late_slot) is None:
                state.add(low, late_slot.night, late_slot.late, True, late_slot.key)
                if state.reason(vols[high], early_slot) is None:
                    state.add(high, early_slot.night, early_slot.late, True, early_slot.key)
                    state.slots_of[high].remove(late_slot)
                    state.slots_of[low].remove(early_slot)
                    state.slots_of[high].append(early_slot)
                    state.slots_of[low].append(late_slot)
                    return True
                state.remove(low, late_slot.night, late_slot.late, late_slot.key)
            state.add(high, late_slot.night, late_slot.late, True, late_slot.key)
            state.add(low, early_slot.night, early_slot.late, True, early_slot.key)
    return False


def explain(slot: Slot, state: _State, by_place) -> Shortage | None:
    """The shortage of ``slot`` in ``state``, with each available volunteer's reason."""
    held = state.held[slot.key]
    if len(held) >= slot.minimum:
        return None
    pool = by_place[(slot.night.weekday(), slot.zone_id)]
    reasons: Counter = Counter()
    for vol in pool:
        if vol.id in held:
            continue
        reason = state.reason(vol, slot)
        if reason is not None:
            reasons[reason] += 1
    return Shortage(slot, len(held), len(pool), dict(reasons))


def shortages_of(slots: list[Slot], volunteers: list[Volunteer], held: list[Fixed]) -> list:
    """The shortages of a roster as it stands (``held``: every shift held around it)."""
    vols = {v.id: v for v in volunteers}
    state = _State(vols)
    for f in held:  # late hours play no part in a shortage: not worked out
        state.add(f.volunteer_id, f.night, 0.0, f.in_month, f.slot_key)
    by_place: dict[tuple, list[Volunteer]] = defaultdict(list)
    for vol in vols.values():
        for place in vol.available:
            by_place[place].append(vol)
    return [s for s in (explain(slot, state, by_place) for slot in slots) if s]


def fairness(result: Result, volunteers: list[Volunteer]) -> dict:
    """Spread of shifts among equally-available volunteers, and the spread of late hours."""
    vols = {v.id: v for v in volunteers}
    worst_count, worst_late = 0, 0.0
    for ids in _groups(vols):
        counts = [result.load[vid][0] for vid in ids]
        lates = [result.load[vid][1] for vid in ids]
        worst_count = max(worst_count, max(counts) - min(counts))
        worst_late = max(worst_late, max(lates) - min(lates))
    total_late = sum(late for _, late in result.load.values())
    busy = [vid for vid, (count, _) in result.load.items() if count]
    shares = sorted(result.load[vid][1] / total_late for vid in busy) if total_late else []
    return {
        "groups": len(_groups(vols)),
        "max_count_spread_in_group": worst_count,
        "max_late_hours_spread_in_group": worst_late,
        "largest_late_share": shares[-1] if shares else 0.0,
        "volunteers_with_shifts": len(busy),
    }
