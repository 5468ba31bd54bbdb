"""Demo data for patrols: shifts in every zone, ~60 volunteers (the demo member among them),
last month's and this month's rosters, attendance for past nights, incidents, and last
month's stipends approved and posted."""

from collections import defaultdict
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from association.auth.models import User
from association.core.time import month_end, month_start, now_in_nairobi
from association.extensions import db
from association.ledger.models import PaymentMethod
from association.ledger.periods import is_closed
from association.members.models import MemberStatus
from association.members.services import list_zones
from association.patrols import stipends
from association.patrols.incidents import IncidentData, record_incident
from association.patrols.models import Assignment, Attendance, IncidentCategory
from association.patrols.patrollers import add_away, enrol, set_availability
from association.patrols.roster import generate_roster
from association.patrols.shifts import add_templates
from association.patrols.swaps import offer_shift

VOLUNTEERS = 60
#: Busy zones get two shifts a night; quieter ones one longer shift.
TWO_SHIFTS = ((time(21), time(1)), (time(1), time(5)))
ONE_SHIFT = ((time(21), time(3)),)

INCIDENTS = (
    (IncidentCategory.HOUSE_BREAKIN, "Door of a single room forced while the tenant was at "
     "work; a TV and a gas cylinder taken.", ["spoke_to_family"], False, None),
    (IncidentCategory.MUGGING, "A woman coming from the stage was stopped by two young men "
     "and her phone and KES 600 taken.", ["warned"], False, None),
    (IncidentCategory.SNATCH_THEFT, "Phone snatched through a matatu window at the stage.",
     [], False, None),
    (IncidentCategory.ASSAULT, "Fight outside a bar; one man cut on the arm with a bottle and "
     "taken to Mathare North health centre.", ["to_police"], True, "Pangani"),
    (IncidentCategory.GBV, "Neighbours reported a woman being beaten by her husband; the "
     "patrol called the chief and the police gender desk.", ["to_chief", "to_police"], False,
     "Pangani"),
    (IncidentCategory.FIRE, "Paraffin lamp fire in a timber house; put out by neighbours "
     "with sand and water; no one hurt.", ["mediated"], False, None),
    (IncidentCategory.BUSINESS_BREAKIN, "Kiosk padlock cut; airtime and sugar taken.",
     ["spoke_to_family"], False, None),
    (IncidentCategory.OTHER, "Drunk man sleeping by the river at 2 am; walked home by the "
     "patrol.", ["warned"], False, None),
)

#: How often each of INCIDENTS happens, in that order.
INCIDENT_WEIGHTS = (8, 7, 5, 3, 2, 1, 3, 2)


def _user_id(username: str) -> int | None:
    return db.session.scalar(sa.select(User.id).where(User.username == username))


def seed_patrols(members, today, rng) -> dict:
    """Add patrols demo records for the demo association; return counts of what was made."""
    zones = list_zones()
    if not zones:
        return {}
    coordinator = _user_id("coordinator")
    treasurer = _user_id("treasurer")
    member_user = db.session.scalar(sa.select(User).where(User.username == "member"))
    stipends.set_stipend_rate(5_000)  # KES 50 a shift, about what the dues can carry
    for n, zone in enumerate(zones):
        for start, end in (TWO_SHIFTS if n < 2 else ONE_SHIFT):
            add_templates(zone, list(range(7)), start, end)

    active = [m for m in members if m.status == MemberStatus.ACTIVE]
    young = [m for m in active if m.is_youth(today)]
    pool = young if len(young) >= VOLUNTEERS else active
    chosen = rng.sample(pool, k=min(VOLUNTEERS, len(pool)))
    if member_user is not None and member_user.member_id not in {m.id for m in chosen}:
        own = next(m for m in members if m.id == member_user.member_id)
        if own.status == MemberStatus.ACTIVE:
            chosen[0] = own
    zone_ids = [z.id for z in zones]
    enrolled_on = month_start(today) - timedelta(days=60)
    patrollers = []
    for member in chosen:
        p = enrol(member, weekly_limit=rng.choice((None, None, 3, 4)),
                           back_to_back=rng.random() < 0.25, on=enrolled_on)
        home = member.zone_id if member.zone_id in zone_ids else rng.choice(zone_ids)
        places = {home}
        if rng.random() < 0.35:
            places.add(rng.choice(zone_ids))
        nights = rng.sample(range(7), rng.randint(4, 6))
        set_availability(p, {(d, z) for d in nights for z in places})
        patrollers.append(p)
    away = rng.choice(patrollers)
    add_away(away, today + timedelta(days=3), today + timedelta(days=9),
                      "Upcountry for a funeral")

    this_month = month_start(today)
    last_month = month_start(this_month - timedelta(days=1))
    for month in (last_month, this_month):
        generate_roster(month, coordinator, today=month)

    # Attendance for every shift that has ended: most turn up, and when someone cannot,
    # the coordinator usually finds a replacement, so most nights stay covered.
    now = now_in_nairobi()
    by_id = {p.id: p for p in patrollers}
    done = db.session.scalars(sa.select(Assignment).where(
        Assignment.ends_at <= now).order_by(Assignment.night, Assignment.id)).all()
    # A replacement is someone free that night: not rostered, not already replacing.
    busy = defaultdict(set)
    for night, patroller_id in db.session.execute(
            sa.select(Assignment.night, Assignment.patroller_id)):
        busy[night].add(patroller_id)
    attended = 0
    for a in done:
        roll = rng.random()
        if roll < 0.91:
            a.attendance = Attendance.PRESENT
            attended += 1
        elif roll < 0.93:
            a.attendance = Attendance.ABSENT
        elif roll < 0.95:
            a.attendance = Attendance.EXCUSED
            a.attendance_note = "Sick"
        elif free := [p for p in patrollers if p.id not in busy[a.night]]:
            a.attendance = Attendance.REPLACED
            a.replaced_by_id = rng.choice(free).id
            busy[a.night].add(a.replaced_by_id)
            attended += 1
        else:
            a.attendance = Attendance.ABSENT
        a.attendance_by_id = coordinator
        a.attendance_at = datetime.combine(a.night + timedelta(days=1), time(9))
    db.session.flush()

    # One open offer from another volunteer, so patrollers see swaps working.
    upcoming = db.session.scalars(sa.select(Assignment).where(
        Assignment.starts_at > now + timedelta(days=1)).order_by(Assignment.starts_at)
        .limit(40)).all()
    offers = 0
    for a in upcoming:
        if member_user is None or a.patroller.member_id != member_user.member_id:
            offer_shift(by_id.get(a.patroller_id) or a.patroller, a,
                                 "Family function that night")
            offers += 1
            break

    # Break-ins and muggings are the common ones, and two zones see most of them.
    incidents = 0
    hotspots = [3 if n < 2 else 1 for n in range(len(zone_ids))]
    for days_ago in sorted(rng.choices(range(1, 60), k=36), reverse=True):
        category, text, actions, weapon, station = rng.choices(
            INCIDENTS, weights=INCIDENT_WEIGHTS)[0]
        night = today - timedelta(days=days_ago)
        at = datetime.combine(night, time(rng.choice((21, 22, 23)), rng.choice((5, 20, 45))))
        data = IncidentData(
            occurred_at=at, zone_id=rng.choices(zone_ids, weights=hotspots)[0],
            place=f"Near plot {rng.randint(1, 90)}",
            category=category, description=text, actions=list(actions), weapon_involved=weapon,
            police_station=station,
            ob_number=f"OB {rng.randint(1, 60)}/{night:%d/%m/%Y}" if station else None,
            police_officer="Cpl. Wafula" if station else None,
            reporter_name="A neighbour" if rng.random() < 0.4 else None,
            person_description=("Said to be a young man known at the car wash"
                                if category == IncidentCategory.MUGGING else None),
        )
        record_incident(data, coordinator)
        incidents += 1

    runs = 0
    if not is_closed(month_end(last_month)) and coordinator and treasurer:
        run = stipends.create_run(last_month, PaymentMethod.MPESA, coordinator, today=today)
        stipends.approve_run(run, treasurer)
        runs = 1
    return {"patrollers": len(patrollers),
            "patrol_shifts": db.session.scalar(sa.select(sa.func.count(Assignment.id))),
            "patrol_attended": attended, "patrol_offers": offers, "incidents": incidents,
            "stipend_runs": runs}
