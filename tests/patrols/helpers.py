"""Patrol objects for the access walk in tests/test_access.py."""

from datetime import datetime, time, timedelta

from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger.models import PaymentMethod
from association.members.models import Member, Zone
from association.patrols import assignments, attendance, patrollers, shifts, stipends, swaps
from association.patrols.incidents import IncidentData, record_incident
from association.patrols.models import Attendance, IncidentCategory


def patrol_walk_values(other_member_id: int, zone_id: int) -> dict:
    """A shift template, a future assignment of another member with an offer, an away period,
    a stipend run and an incident; the URL values naming them."""
    zone = db.session.get(Zone, zone_id)
    templates = shifts.add_templates(zone, list(range(7)), time(21), time(1))
    other = patrollers.enrol(db.session.get(Member, other_member_id))
    patrollers.set_availability(other, {(d, zone_id) for d in range(7)})
    today = today_in_nairobi()
    night = today + timedelta(days=5)
    template = next(t for t in templates if t.weekday == night.weekday())
    assignment, _ = assignments.assign(night, template, other)
    swap = swaps.offer_shift(other, assignment, None)
    away = patrollers.add_away(other, night + timedelta(days=20), night + timedelta(days=22), None)
    stipends.set_stipend_rate(10_000)
    past = month_start(month_start(today) - timedelta(days=1)).replace(day=10)
    past_template = next(t for t in templates if t.weekday == past.weekday())
    done, _ = assignments.assign(past, past_template, other, now=datetime(2000, 1, 1))
    attendance.record_attendance(past, [attendance.AttendanceInput(done.id, Attendance.PRESENT)],
                               None)
    run = stipends.create_run(past, PaymentMethod.CASH, None)
    incident = record_incident(IncidentData(
        datetime.combine(today - timedelta(days=1), time(22)), zone_id, "Lane 2",
        IncidentCategory.MUGGING, "A phone was taken.", ["warned"]), None)
    db.session.commit()
    return {
        "template_id": template.id,
        "night": night.isoformat(),
        "assignment_id": assignment.id,
        "patroller_id": other.id,
        "swap_id": swap.id,
        "away_id": away.id,
        "token": other.ical_token,
        "run_id": run.id,
        "incident_id": incident.id,
    }
