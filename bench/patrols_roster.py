"""Benchmark the patrol roster generator.

A month with 10 zones, 2 shifts a night (21:00-01:00 and 01:00-05:00) and 300
volunteers with random availability (each available on 2 to 5 nights of the week,
in their home zone and sometimes a neighbouring one; some away for a few days,
some with a weekly limit). Prints the time to generate and the fairness achieved.
Target: under 5 s.

    .venv/bin/python bench/patrols_roster.py [--seed N] [--month 2026-03]
    .venv/bin/python bench/patrols_roster.py --db      # also through the database

With ``--db`` it also builds a throwaway migrated SQLite database (or the
PostgreSQL one in ``--database-url``, whose public schema is DROPPED) with the
same zones, shifts and volunteers, and times ``generate_roster`` there: loading,
generating, writing every assignment and its audit event, and committing; then
a regeneration that replaces them all.
"""

import argparse
import calendar
import random
import sys
import time as clock
from datetime import date, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from association.patrols.roster_generator import (  # noqa: E402
    Slot,
    Volunteer,
    fairness,
    generate,
    shift_times,
)

ZONES = 10
VOLUNTEERS = 300
SHIFTS = ((time(21), time(1)), (time(1), time(5)))


def scenario(seed: int, year: int, month: int, profiles: int = 40):
    """Slots and volunteers; volunteers share one of ``profiles`` availability patterns, so
    groups of equally-available volunteers exist (as in real life: "weekends in zone 3")."""
    rng = random.Random(seed)
    slots = []
    days = calendar.monthrange(year, month)[1]
    for day in range(1, days + 1):
        night = date(year, month, day)
        for zone in range(1, ZONES + 1):
            for n, (start, end) in enumerate(SHIFTS):
                starts_at, ends_at = shift_times(night, start, end)
                slots.append(Slot(night, zone * 10 + n, zone, starts_at, ends_at, 2))
    patterns = []
    for _ in range(profiles):
        home = rng.randint(1, ZONES)
        zones = {home} | ({home % ZONES + 1} if rng.random() < 0.4 else set())
        nights = rng.sample(range(7), rng.randint(2, 5))
        away = ()
        if rng.random() < 0.2:
            first = date(year, month, rng.randint(1, days - 3))
            away = ((first, first + timedelta(days=rng.randint(1, 4))),)
        limit = rng.choice((None, None, 2, 3))
        patterns.append((frozenset((d, z) for d in nights for z in zones), away, limit,
                         rng.random() < 0.3))
    volunteers = [Volunteer(i + 1, *patterns[i % profiles]) for i in range(VOLUNTEERS)]
    return slots, volunteers


def through_database(args, volunteers: list[Volunteer]) -> None:
    """Time generate_roster against a real database with the same input."""
    import shutil
    import tempfile

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from association import create_app
    from association.audit.services import acting_as
    from association.extensions import db
    from association.members.models import Zone
    from association.patrols.models import Assignment, Availability, AwayPeriod, Patroller
    from association.patrols.patrollers import new_token
    from association.patrols.roster import generate_roster
    from association.patrols.shifts import add_templates
    from bench.generate import generate_members
    from config import TestingConfig

    tmp = Path(tempfile.mkdtemp(prefix="patrols-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tmp})
    try:
        with app.app_context(), acting_as("bench"):
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
            upgrade()
            made = generate_members(VOLUNTEERS, zones=ZONES, seed=args.seed)
            db.session.commit()
            zones = list(db.session.scalars(sa.select(Zone).order_by(Zone.id)))
            for zone in zones:
                for start, end in SHIFTS:
                    add_templates(zone, list(range(7)), start, end)
            del made
            member_ids = list(db.session.scalars(sa.text("select id from member order by id")))
            for vol, member_id in zip(volunteers, member_ids, strict=False):
                p = Patroller(member_id=member_id, active=True, weekly_limit=vol.weekly_limit,
                              back_to_back=vol.back_to_back, ical_token=new_token(),
                              enrolled_on=date(2020, 1, 1))
                p.availability = [Availability(weekday=d, zone_id=zones[z - 1].id)
                                  for d, z in sorted(vol.available)]
                p.away = [AwayPeriod(start_date=a, end_date=b) for a, b in vol.away]
                db.session.add(p)
            db.session.commit()
            month = date(*map(int, args.month.split("-")), 1)
            for label, keep in (("first generation", True), ("regeneration", False)):
                started = clock.perf_counter()
                result = generate_roster(month, None, keep_manual=keep, today=month)
                db.session.commit()
                elapsed = clock.perf_counter() - started
                total = db.session.scalar(sa.select(sa.func.count(Assignment.id)))
                print(f"{db.engine.dialect.name} {label}: {elapsed:.3f} s for {total} "
                      f"assignments ({result.removed} replaced), {len(result.shortages)} "
                      f"shifts short")
            db.session.remove()  # its open transaction would block dropping the schema
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-03")
    parser.add_argument("--db", action="store_true", help="also time it through a database")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL for --db (its public schema is DROPPED)")
    args = parser.parse_args()
    year, month = map(int, args.month.split("-"))
    slots, volunteers = scenario(args.seed, year, month)
    started = clock.perf_counter()
    result = generate(slots, volunteers, seed=args.month)
    elapsed = clock.perf_counter() - started
    fair = fairness(result, volunteers)
    places = sum(s.minimum for s in slots)
    late_total = sum(late for _, late in result.load.values())
    print(f"roster {args.month}: {len(slots)} shifts, {places} places, "
          f"{len(volunteers)} volunteers")
    print(f"generated in {elapsed:.3f} s (target < 5 s)")
    print(f"filled {len(result.assignments)} of {places} places; "
          f"{len(result.shortages)} shifts short")
    print(f"groups of equally-available volunteers: {fair['groups']}; largest spread of "
          f"shifts within a group: {fair['max_count_spread_in_group']} (rule: at most 1)")
    print(f"largest spread of late hours within a group: "
          f"{fair['max_late_hours_spread_in_group']:.1f} h; late hours in all: "
          f"{late_total:.0f} h; largest one person's share: {fair['largest_late_share']:.1%}")
    print(f"volunteers with at least one shift: {fair['volunteers_with_shifts']}")
    if args.db:
        through_database(args, volunteers)


if __name__ == "__main__":
    main()
