"""The roster generator on its own: hard rules under random availability, fairness, shortages."""

import random
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import pytest

from association.patrols.roster_generator import (
    REST,
    WEEKLY_LIMIT,
    Fixed,
    Slot,
    Volunteer,
    generate,
    late_hours,
    shift_times,
    week_of,
)


def test_a_shift_belongs_to_the_night_it_starts_on_and_crosses_midnight():
    night = date(2026, 3, 3)  # a Tuesday
    assert shift_times(night, time(21), time(1)) == (datetime(2026, 3, 3, 21),
                                                     datetime(2026, 3, 4, 1))
    assert shift_times(night, time(1), time(5)) == (datetime(2026, 3, 4, 1),
                                                    datetime(2026, 3, 4, 5))
    assert shift_times(night, time(21), time(5)) == (datetime(2026, 3, 3, 21),
                                                     datetime(2026, 3, 4, 5))
    assert shift_times(night, time(18), time(22)) == (datetime(2026, 3, 3, 18),
                                                      datetime(2026, 3, 3, 22))


def test_late_hours_are_those_after_one_in_the_morning():
    night = date(2026, 3, 3)
    assert late_hours(*shift_times(night, time(21), time(1))) == 0
    assert late_hours(*shift_times(night, time(1), time(5))) == 4
    assert late_hours(*shift_times(night, time(21), time(5))) == 4
    assert late_hours(*shift_times(night, time(23), time(2))) == 1


def _month_slots(year, month, zones, shifts, minimum=2):
    slots, day = [], date(year, month, 1)
    while day.month == month:
        for zone in zones:
            for n, (start, end) in enumerate(shifts):
                slots.append(Slot(day, zone * 10 + n, zone, *shift_times(day, start, end),
                                  minimum))
        day += timedelta(days=1)
    return slots


SHIFTS = ((time(21), time(1)), (time(1), time(5)))


def _random_volunteers(rng, n, zones, patterns=None):
    vols = []
    for i in range(1, n + 1):
        if patterns:
            avail, away, limit, b2b = patterns[i % len(patterns)]
        else:
            zone = rng.choice(zones)
            avail = frozenset((d, zone) for d in rng.sample(range(7), rng.randint(1, 6)))
            away = ()
            if rng.random() < 0.3:
                first = date(2026, 3, rng.randint(1, 25))
                away = ((first, first + timedelta(days=rng.randint(0, 5))),)
            limit = rng.choice((None, 1, 2, 3))
            b2b = rng.random() < 0.3
        vols.append(Volunteer(i, avail, away, limit, b2b))
    return vols


def assert_hard_rules(result, slots, vols, fixed=()):
    by_key = {s.key: s for s in slots}
    vol = {v.id: v for v in vols}
    nights = defaultdict(list)
    held = Counter()
    for key, vid in result.assignments:
        slot = by_key[key]
        v = vol[vid]
        assert (slot.night.weekday(), slot.zone_id) in v.available, "availability"
        assert not v.is_away(slot.night), "away"
        nights[vid].append(slot.night)
        held[key] += 1
    for f in fixed:
        nights[f.volunteer_id].append(f.night)
        if f.slot_key:
            held[f.slot_key] += 1
    for key, count in held.items():
        assert count <= by_key[key].minimum, "never more than the minimum from the generator"
    for vid, ns in nights.items():
        assert len(ns) == len(set(ns)), "two shifts in one night"
        v = vol[vid]
        if not v.back_to_back:
            s = set(ns)
            assert not any(n + timedelta(days=1) in s for n in s), "back-to-back nights"
        if v.weekly_limit is not None:
            weeks = Counter(week_of(n) for n in ns)
            assert max(weeks.values()) <= v.weekly_limit, "weekly limit"
    short = {s.slot.key for s in result.shortages}
    for slot in slots:
        assert (held[slot.key] < slot.minimum) == (slot.key in short), "shortage reported"


@pytest.mark.parametrize("seed", range(12))
def test_hard_rules_hold_for_random_availability(seed):
    rng = random.Random(  # noqa: S311
        seed)
    zones = [1, 2, 3]
    slots = _month_slots(2026, 3, zones, SHIFTS, minimum=rng.choice((2, 3)))
    vols = _random_volunteers(rng, rng.randint(5, 60), zones)
    fixed = [Fixed(vols[0].id, date(2026, 3, 10), *shift_times(date(2026, 3, 10), time(21),
                                                               time(1)), (date(2026, 3, 10), 10))]
    result = generate(slots, vols, fixed, seed=str(seed))
    assert_hard_rules(result, slots, vols, fixed)


@pytest.mark.parametrize("seed", range(8))
def test_equally_available_volunteers_differ_by_at_most_one_shift(seed):
    rng = random.Random(  # noqa: S311
        100 + seed)
    zones = [1, 2]
    patterns = []
    for _ in range(4):
        zone = rng.choice(zones)
        patterns.append((frozenset((d, zone) for d in rng.sample(range(7), rng.randint(2, 5))),
                         (), rng.choice((None, 2, 3)), rng.random() < 0.5))
    vols = _random_volunteers(rng, rng.randint(12, 40), zones, patterns)
    slots = _month_slots(2026, 3, zones, SHIFTS)
    result = generate(slots, vols, seed="m")
    assert_hard_rules(result, slots, vols)
    groups = defaultdict(list)
    for v in vols:
        groups[v.signature].append(result.load[v.id][0])
    for counts in groups.values():
        assert max(counts) - min(counts) <= 1, counts


def test_late_hours_are_shared_among_equals():
    vols = [Volunteer(i, frozenset((d, 1) for d in range(7)), back_to_back=True)
            for i in range(1, 9)]
    slots = _month_slots(2026, 3, [1], SHIFTS)
    result = generate(slots, vols, seed="x")
    lates = [result.load[v.id][1] for v in vols]
    assert max(lates) - min(lates) <= 4  # one late shift at most
    counts = [result.load[v.id][0] for v in vols]
    assert max(counts) - min(counts) <= 1


def test_the_same_input_gives_the_same_roster():
    rng = random.Random(  # noqa: S311
        5)
    slots = _month_slots(2026, 3, [1, 2], SHIFTS)
    vols = _random_volunteers(rng, 30, [1, 2])
    assert generate(slots, vols, seed="2026-03").assignments == \
        generate(list(reversed(slots)), list(reversed(vols)), seed="2026-03").assignments


def test_a_short_shift_says_why():
    night = date(2026, 3, 2)  # Monday
    slots = [Slot(night, 1, 1, *shift_times(night, time(21), time(1)), 2)]
    everyone = frozenset({(0, 1)})
    vols = [
        Volunteer(1, everyone),  # takes it
        Volunteer(2, everyone, weekly_limit=1),  # already did a shift that week
        Volunteer(3, everyone),  # patrolled the night before
        Volunteer(4, everyone, away=((night, night),)),
    ]
    sunday, wednesday = night - timedelta(days=1), night + timedelta(days=2)
    fixed = [Fixed(2, wednesday, *shift_times(wednesday, time(21), time(1)), None, False),
             Fixed(3, sunday, *shift_times(sunday, time(21), time(1)), None, False)]
    result = generate(slots, vols, fixed, seed="s")
    assert [vid for _, vid in result.assignments] == [1]
    (short,) = result.shortages
    assert short.have == 1 and short.available == 4
    assert short.reasons == {"away": 1, REST: 1, WEEKLY_LIMIT: 1}


def test_no_volunteer_for_a_zone_is_a_shortage_not_a_failure():
    slots = _month_slots(2026, 3, [1, 2], SHIFTS)
    vols = [Volunteer(i, frozenset((d, 1) for d in range(7))) for i in range(1, 10)]
    result = generate(slots, vols, seed="z")
    zone2 = [s for s in result.shortages if s.slot.zone_id == 2]
    assert len(zone2) == 31 * 2 and all(s.available == 0 and s.have == 0 for s in zone2)
