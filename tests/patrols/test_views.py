"""Patrol screens through a CSRF-checking client: who sees what, bad input, PDFs and the feed."""

import re
import shutil
import subprocess
from datetime import datetime, time, timedelta

import icalendar
import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.auth.models import Role
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.models import Expense, ExpenseStatus
from association.members.models import Member
from association.patrols import assignments, attendance, patrollers, shifts, stipends, swaps
from association.patrols.incidents import IncidentData, record_incident
from association.patrols.models import (
    Assignment,
    Attendance,
    Incident,
    IncidentCategory,
    IncidentRevision,
    Patroller,
    PatrolSettings,
    StipendRun,
    Swap,
    SwapStatus,
)
from tests.conftest import count
from tests.patrols.conftest import (
    EVENING,
    LATE,
    last_month,
    long_ago,
    next_month,
    template_of,
)


@pytest.fixture
def site(app, people, patrol_ids):
    """The demo-like logins, the patrol fixture, and the member login enrolled as a patroller
    (with a shift next month); another patroller has one too."""
    with app.app_context(), acting_as("test"):
        zone1_id = patrol_ids.zone1_id
        own = patrollers.enrol(db.session.get(Member, people.own_member_id))
        patrollers.set_availability(own, {(d, zone1_id) for d in range(7)})
        night = next_month().replace(day=8)
        template = template_of(zone1_id, night.weekday(), EVENING[0])
        mine, _ = assignments.assign(night, template, own)
        theirs, _ = assignments.assign(night, template, db.session.get(Patroller,
                                                                     patrol_ids.v1_ids[0]))
        db.session.commit()
        site = type("Site", (), {})()
        site.own_id, site.mine_id, site.theirs_id = own.id, mine.id, theirs.id
        site.night, site.template_id = night, template.id
        site.zone1_id, site.zone2_id = zone1_id, patrol_ids.zone2_id
        site.other_patroller_id = patrol_ids.v1_ids[0]
        site.token = own.ical_token
        return site


def pdf_text(data: bytes, path) -> str:
    """The PDF's text, as pdftotext reads it."""
    path.write_bytes(data)
    command = [shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True,  # noqa: S603
                          timeout=60).stdout


def text(response) -> str:
    return response.get_data(as_text=True)


def test_coordinator_generates_and_sees_the_roster(web, site):
    web.login("coordinator")
    month = next_month().strftime("%Y-%m")
    response = web.post("/patrols/generate", {"month": month}, follow_redirects=True)
    assert response.status_code == 200
    page = text(response)
    assert "places filled" in page and "shifts are short" in page
    assert "Kosovo" in page  # zone 2 is short, with its reasons
    csv_text = text(web.get(f"/patrols/roster.csv?month={month}"))
    assert csv_text.splitlines()[0] == "Date,Shift start,Shift end,Zone,Member number"
    assert len(csv_text.splitlines()) > 100


def test_generate_with_bad_months_changes_nothing(web, site, app):
    web.login("coordinator")
    for bad in ("", "2026-13", "March", "9999-01", "x" * 500):
        response = web.post("/patrols/generate", {"month": bad}, follow_redirects=True)
        assert response.status_code == 200
    with app.app_context():
        assert count(Assignment) == 2


def _row_of(page: str, href: str) -> str:
    """The roster row (``<tr>`` to ``</tr>``) holding the link ``href``."""
    match = re.search(rf'<tr class="[^"]*">(?:(?!</tr>).)*?href="{re.escape(href)}"'
                      r"(?:(?!</tr>).)*</tr>", page, re.DOTALL)
    assert match, href
    return match.group(0)


def test_roster_page_shows_each_shift_and_who_is_on_it(web, site, app):
    """Each night's shifts with their people, the short ones marked, and the links; a shift
    of a template no longer used stays while someone holds it."""
    with app.app_context(), acting_as("test"):
        late = template_of(site.zone1_id, site.night.weekday(), LATE[0])
        shifts.retire_template(template_of(site.zone1_id, site.night.weekday(), EVENING[0]))
        night = last_month().replace(day=14)
        done, _ = assignments.assign(night, template_of(site.zone1_id, night.weekday(),
                                                     EVENING[0]),
                                  db.session.get(Patroller, site.own_id), now=long_ago())
        attendance.record_attendance(night, [attendance.AttendanceInput(
            done.id, Attendance.PRESENT)], None)
        db.session.commit()
        late_id, done_template_id = late.id, done.template_id
    web.login("coordinator")
    page = text(web.get(f"/patrols/?month={site.night:%Y-%m}"))
    retired = _row_of(page, f"/patrols/shifts/{site.template_id}/{site.night.isoformat()}")
    assert retired.startswith('<tr class="">') and "Baraka Otieno" in retired
    assert retired.count('<small class="muted">(by hand)</small>') == 2
    assert "21:00-01:00" in retired and "Short" not in retired
    week_later = (site.night + timedelta(days=7)).isoformat()
    assert f"/patrols/shifts/{site.template_id}/{week_later}" not in page
    empty = _row_of(page, f"/patrols/shifts/{late_id}/{site.night.isoformat()}")
    assert empty.startswith('<tr class="short">') and "Short: 0 of 2" in empty
    assert "01:00-05:00" in empty and "/patrols/attendance/" not in page
    assert "shifts are short" in page and 'action="/patrols/generate"' in page

    href = f"/patrols/shifts/{done_template_id}/{night.isoformat()}"
    page = text(web.get(f"/patrols/?month={night:%Y-%m}"))
    past = _row_of(page, href)
    assert past.startswith('<tr class=" past">')
    assert '<span class="badge present">Present</span>' in past
    assert f'href="/patrols/attendance/{night.isoformat()}"' in page  # on the night's first row
    web.logout()
    web.login("auditor")  # sees the roster, manages nothing
    page = text(web.get(f"/patrols/?month={night:%Y-%m}"))
    assert '<span class="badge present">Present</span>' in _row_of(page, href)
    assert "/patrols/attendance/" not in page and "/patrols/generate" not in page


def test_roster_page_escapes_what_people_typed(web, site, app):
    """The rows are built as HTML in the view: a name holding markup shows as text."""
    with app.app_context():
        patroller = db.session.get(Patroller, site.own_id)
        patroller.member.first_name = '<b onclick="x()">Baraka</b>'
        db.session.commit()
    web.login("coordinator")
    page = text(web.get(f"/patrols/?month={site.night:%Y-%m}"))
    row = _row_of(page, f"/patrols/shifts/{site.template_id}/{site.night.isoformat()}")
    assert "&lt;b onclick=&#34;x()&#34;&gt;Baraka&lt;/b&gt;" in row
    assert "<b onclick" not in page


def test_roster_page_in_swahili(web, site, app):
    with app.app_context():
        from association.auth.models import User

        user = db.session.scalar(sa.select(User).where(User.username == "coordinator"))
        user.language = "sw"
        db.session.commit()
    with app.test_request_context(), force_locale("sw"):
        by_hand, short = gettext("by hand"), gettext("Short: %(have)d of %(need)d", have=0,
                                                     need=2)
    assert by_hand != "by hand"
    web.login("coordinator")
    page = text(web.get(f"/patrols/?month={site.night:%Y-%m}"))
    assert f"({by_hand})" in page and short in page and "by hand" not in page


def test_viewing_the_roster_writes_nothing_once_set_up(web, site, app):
    """No visit writes the patrol settings row (a page view shows its defaults); later
    visits neither write nor commit."""
    web.login("coordinator")
    with app.app_context():
        assert count(PatrolSettings) == 0
    assert web.get("/patrols/").status_code == 200
    with app.app_context():
        assert count(PatrolSettings) == 0
        engine = db.engine
    seen = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append(statement)

    def on_commit(conn):
        seen.append("COMMIT")

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        assert web.get(f"/patrols/?month={site.night:%Y-%m}").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)
    assert seen == []


def test_roster_pdf_reads_back(web, site, tmp_path):
    web.login("coordinator")
    month = next_month().strftime("%Y-%m")
    web.post("/patrols/generate", {"month": month})
    response = web.get(f"/patrols/roster.pdf?month={month}")
    assert response.mimetype == "application/pdf"
    out = pdf_text(response.data, tmp_path / "roster.pdf")
    assert "Patrol roster" in out and "By zone" in out and "By night" in out
    assert "Mabatini" in out and "Baraka Otieno" in out and "SHORT" in out


def test_swahili_roster_pdf(web, site, tmp_path, app):
    with app.app_context():
        from association.auth.models import User

        user = db.session.scalar(sa.select(User).where(User.username == "coordinator"))
        user.language = "sw"
        db.session.commit()
    web.login("coordinator")
    response = web.get(f"/patrols/roster.pdf?month={next_month():%Y-%m}")
    out = pdf_text(response.data, tmp_path / "r.pdf")
    from babel.dates import format_date

    # Month names come from Babel's Swahili locale (the headings from our catalogue).
    assert format_date(next_month(), "MMMM y", locale="sw") in out


def test_member_sees_own_shifts_and_offers_one(web, site, app):
    web.login("member")
    page = text(web.get("/patrols/me"))
    assert "My patrol shifts" in page and site.token in page
    assert web.post(f"/patrols/me/shifts/{site.theirs_id}/offer").status_code == 404
    assert web.post("/patrols/me/shifts/999999/offer").status_code == 404
    response = web.post(f"/patrols/me/shifts/{site.mine_id}/offer", {"note": "Safari"},
                        follow_redirects=True)
    assert "offered" in text(response)
    with app.app_context():
        swap = db.session.scalar(sa.select(Swap))
        assert swap.status == SwapStatus.OFFERED
        swap_id = swap.id
    # another patroller takes it; their page shows it on offer
    web.logout()
    with app.app_context():
        p = db.session.get(Patroller, site.other_patroller_id)
        from association.auth.services import create_user

        with acting_as("test"):
            create_user("patroller2", "Second", "mtaani-demo", {Role.MEMBER},
                        member_id=p.member_id, must_change_password=False)
            db.session.commit()
    web.login("patroller2")
    page = text(web.get("/patrols/me"))
    assert "Take this shift" in page and "Safari" in page
    assert "Baraka" not in page  # who offered it stays with the coordinator
    # they are already on that shift: refused, nothing changes
    response = web.post(f"/patrols/me/offers/{swap_id}/take", follow_redirects=True)
    assert "already on that shift" in text(response)
    with app.app_context():
        assert db.session.get(Swap, swap_id).status == SwapStatus.OFFERED
    assert web.post(f"/patrols/me/offers/{swap_id}/cancel").status_code == 404


def test_a_member_without_patrols_sees_an_explanation(web, people):
    web.login("member")
    assert "not enrolled" in text(web.get("/patrols/me"))
    assert web.post("/patrols/me/availability").status_code == 404
    assert web.get("/patrols/").status_code == 403


def test_member_changes_own_availability_and_away_dates(web, site, app):
    web.login("member")
    response = web.post("/patrols/me/availability",
                        {f"w0z{site.zone2_id}": "1", f"w5z{site.zone1_id}": "1"},
                        follow_redirects=True)
    assert "availability is saved" in text(response)
    with app.app_context():
        p = db.session.get(Patroller, site.own_id)
        assert {(a.weekday, a.zone_id) for a in p.availability} == {
            (0, site.zone2_id), (5, site.zone1_id)}
    start = today_in_nairobi() + timedelta(days=2)
    ok = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=2)).isoformat()}
    assert "Saved" in text(web.post("/patrols/me/away", ok, follow_redirects=True))
    for bad in ({"start_date": start.isoformat(), "end_date": start.isoformat()},
                {"start_date": "tomorrow", "end_date": ""},
                {"start_date": (start + timedelta(days=9)).isoformat(),
                 "end_date": (start + timedelta(days=8)).isoformat()}):
        response = web.post("/patrols/me/away", bad, follow_redirects=True)
        assert response.status_code == 200
    with app.app_context():
        assert len(db.session.get(Patroller, site.own_id).away) == 1


def test_ical_feed_parses_and_the_secret_can_be_changed(web, site, client, app):
    response = client.get(f"/patrols/calendar/{site.token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(response.data)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    start = events[0].decoded("dtstart")
    assert start.hour == 21 and start.date() == site.night
    assert str(start.tzinfo) in ("Africa/Nairobi", "EAT") or start.utcoffset() == \
        timedelta(hours=3)
    assert events[0].decoded("dtend") - start == timedelta(hours=4)
    assert client.get("/patrols/calendar/not-a-token.ics").status_code == 404
    web.login("member")
    web.post("/patrols/me/calendar/new")
    assert client.get(f"/patrols/calendar/{site.token}.ics").status_code == 404


def test_coordinator_adds_and_removes_with_rule_checks(web, site, app):
    web.login("coordinator")
    url = f"/patrols/shifts/{site.template_id}/{site.night.isoformat()}"
    assert "Baraka Otieno" in text(web.get(url))
    response = web.post(url + "/assign", {"patroller_id": str(site.own_id)},
                        follow_redirects=True)
    assert "already on that shift" in text(response)
    assert web.post(url + "/assign", {"patroller_id": "abc"}).status_code in (302, 303)
    assert web.get(f"/patrols/shifts/{site.template_id}/not-a-date").status_code == 404
    assert web.get(f"/patrols/shifts/999999/{site.night.isoformat()}").status_code == 404
    web.post(f"/patrols/assignments/{site.mine_id}/remove")
    with app.app_context():
        assert db.session.get(Assignment, site.mine_id) is None
    assert web.post("/patrols/assignments/999999/remove").status_code == 404


def test_attendance_screen_refuses_future_shifts(web, site, app):
    web.login("coordinator")
    response = web.post(f"/patrols/attendance/{site.night.isoformat()}",
                        {f"status-{site.mine_id}": "present"}, follow_redirects=True)
    assert "has not happened yet" in text(response)
    with app.app_context():
        assert db.session.get(Assignment, site.mine_id).attendance is None
    assert web.get("/patrols/attendance/2026-02-31").status_code == 404


def test_attendance_and_stipends_end_to_end(web, site, app, tmp_path):
    with app.app_context(), acting_as("test"):
        stipends.set_stipend_rate(25_000)
        night = last_month().replace(day=14)
        a, _ = assignments.assign(night, template_of(site.zone1_id, night.weekday(), EVENING[0]),
                               db.session.get(Patroller, site.own_id), now=long_ago())
        db.session.commit()
        a_id = a.id
    web.login("coordinator")
    response = web.post(f"/patrols/attendance/{night.isoformat()}",
                        {f"status-{a_id}": "bogus"}, follow_redirects=True)
    assert "Not a valid choice" in text(response)
    web.post(f"/patrols/attendance/{night.isoformat()}", {f"status-{a_id}": "present"})
    page = text(web.get(f"/patrols/stipends?month={night:%Y-%m}"))
    assert "KES 250.00" in page
    response = web.post("/patrols/stipends/new", {"month": f"{night:%Y-%m}", "method": "mpesa"},
                        follow_redirects=True)
    assert "wait for another official" in text(response)
    with app.app_context():
        run = db.session.scalar(sa.select(StipendRun))
        run_id, expense_id = run.id, run.expense_id
    page = text(web.get(f"/patrols/stipends?month={night:%Y-%m}"))
    assert f"STP-{run_id}" in page and "Send for approval" not in page
    pdf = web.get(f"/patrols/stipends/{run_id}/payout.pdf")
    out = pdf_text(pdf.data, tmp_path / "payout.pdf")
    assert "Patrol stipends" in out and "Baraka Otieno" in out and "Signature" in out
    assert "KES 250.00" in out
    # the coordinator cannot approve; the treasurer can
    assert web.post(f"/patrols/stipends/{run_id}/approve").status_code == 403
    web.logout()
    web.login("treasurer")
    web.post(f"/patrols/stipends/{run_id}/approve")
    with app.app_context():
        assert db.session.get(Expense, expense_id).status == ExpenseStatus.APPROVED
    # reversed in the books: the run says so, and the month can be computed again
    web.post(f"/expenses/{expense_id}/reverse", {"reason": "Paid to the wrong numbers"})
    web.logout()
    web.login("coordinator")
    page = text(web.get(f"/patrols/stipends/{run_id}"))
    assert "Reversed" in page and "Paid to the wrong numbers" in page
    page = text(web.get(f"/patrols/stipends?month={night:%Y-%m}"))
    assert "Send for approval" in page and "Reversed" in page
    out = pdf_text(web.get(f"/patrols/stipends/{run_id}/payout.pdf").data,
                   tmp_path / "reversed.pdf")
    assert "status: Reversed" in out
    response = web.post("/patrols/stipends/new", {"month": f"{night:%Y-%m}", "method": "cash"},
                        follow_redirects=True)
    assert "wait for another official" in text(response)
    response = web.post("/patrols/stipends/new", {"month": f"{night:%Y-%m}", "method": "cash"},
                        follow_redirects=True)
    assert "already recorded" in text(response)
    with app.app_context():
        assert count(StipendRun) == 2


def _incident(app, zone_id, **kw):
    with app.app_context(), acting_as("test"):
        values = dict(occurred_at=datetime.combine(today_in_nairobi() - timedelta(days=1),
                                                   time(23, 40)),
                      zone_id=zone_id, place="Behind Plot 12", category=IncidentCategory.ASSAULT,
                      description="A man was beaten near the water point.",
                      actions=["to_police"], police_station="Pangani", ob_number="OB 23/11/2026",
                      police_officer="PC Otieno", reporter_name="Mama Wanjiru",
                      reporter_phone="0722111222",
                      person_description="Said to be a young man from the car wash")
        values.update(kw)
        incident = record_incident(IncidentData(**values), None)
        db.session.commit()
        return incident.id


def test_incident_reporter_seen_only_by_coordinator_and_chair(web, site, app):
    incident_id = _incident(app, site.zone1_id)
    for role, sees in (("coordinator", True), ("chair", True), ("secretary", False)):
        web.login(role)
        page = text(web.get(f"/patrols/incidents/{incident_id}"))
        assert "OB 23/11/2026" in page and "Unverified allegation" in page
        assert ("Mama Wanjiru" in page) is sees, role
        web.logout()
    for role in ("member", "treasurer", "auditor"):
        web.login(role)
        assert web.get(f"/patrols/incidents/{incident_id}").status_code == 403
        assert web.get("/patrols/incidents.csv").status_code == 403
        web.logout()
    with app.app_context():
        views = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "view", AuditEvent.object_type == "incident")).all()
        assert len(views) == 3
        trail = " ".join(str(e.after) for e in db.session.scalars(sa.select(AuditEvent)))
        assert "Mama Wanjiru" not in trail and "car wash" not in trail


def test_members_see_only_counts(web, site, app):
    _incident(app, site.zone1_id)
    web.login("member")
    page = text(web.get("/patrols/incidents/summary"))
    assert "Assault" in page and "Mabatini" in page
    assert "Plot 12" not in page and "car wash" not in page and "Wanjiru" not in page


def test_incident_export_is_logged_and_hides_the_reporter_from_the_secretary(web, site, app):
    _incident(app, site.zone1_id)
    web.login("secretary")
    csv_text = text(web.get("/patrols/incidents.csv"))
    assert "UNVERIFIED" in csv_text and "Mama Wanjiru" not in csv_text
    web.logout()
    web.login("chair")
    assert "Mama Wanjiru" in text(web.get("/patrols/incidents.csv"))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.seq)).where(
            AuditEvent.action == "export", AuditEvent.object_type == "incident")) == 2


def _incident_form(zone, **kw):
    data = {"occurred_at": (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "zone_id": str(zone), "place": "Lane 3", "category": "mugging",
            "description": "Phone snatched from a woman walking home.", "actions": ["warned"]}
    data.update(kw)
    return data


def test_recording_an_incident_and_bad_input(web, site, app):
    web.login("coordinator")
    response = web.post("/patrols/incidents/new", _incident_form(site.zone1_id),
                        follow_redirects=True)
    assert "is recorded" in text(response)
    bad = [
        {"occurred_at": "2999-01-01T10:00"},
        {"occurred_at": "yesterday"},
        {"zone_id": "999999"},
        {"category": "murder"},
        {"description": ""},
        {"actions": ["to_police"]},  # no station
        {"ob_number": "OB 1/1"},  # OB without handing to the police
        {"reporter_phone": "12"},
        {"place": "x" * 201},
        {"actions": ["flew"]},
    ]
    for change in bad:
        response = web.post("/patrols/incidents/new", _incident_form(site.zone1_id, **change))
        assert response.status_code == 200, change
    with app.app_context():
        assert count(Incident) == 1
    response = web.post("/patrols/incidents/new", _incident_form(
        site.zone1_id, category="gbv", actions=["spoke_to_family"]), follow_redirects=True)
    assert "major crime" in text(response)


def test_corrections_keep_the_earlier_version(web, site, app):
    incident_id = _incident(app, site.zone1_id)
    web.login("coordinator")
    form = _incident_form(site.zone1_id, category="assault", actions=["to_police"],
                          police_station="Pangani", ob_number="OB 24/11/2026")
    response = web.post(f"/patrols/incidents/{incident_id}/edit", form, follow_redirects=True)
    assert "reason" in text(response).lower()
    form["reason"] = "OB number was misread"
    response = web.post(f"/patrols/incidents/{incident_id}/edit", form, follow_redirects=True)
    assert "earlier version is kept" in text(response)
    with app.app_context():
        (rev,) = db.session.scalars(sa.select(IncidentRevision)).all()
        assert rev.snapshot["ob_number"] == "OB 23/11/2026"
        assert db.session.get(Incident, incident_id).ob_number == "OB 24/11/2026"
    response = web.post(f"/patrols/incidents/{incident_id}/edit", form, follow_redirects=True)
    assert "Nothing was changed" in text(response)
    assert web.get("/patrols/incidents/999999/edit").status_code == 404


def test_settings_and_zone_screens(web, site, app):
    web.login("coordinator")
    assert "Mabatini" in text(web.get("/patrols/settings"))
    for bad in ("-5", "abc", "1,2,3", "10000000000"):
        assert web.post("/patrols/settings", {"stipend": bad}).status_code == 200
    web.post("/patrols/settings", {"stipend": "200"})
    with app.app_context():
        assert stipends.settings().stipend_cents == 20_000
    url = f"/patrols/zones/{site.zone2_id}"
    response = web.post(url, {"min_per_shift": "9", "active": "y"}, follow_redirects=True)
    assert "can never be met" in text(response)
    response = web.post(url, {"min_per_shift": "1", "active": "y"}, follow_redirects=True)
    assert "nobody patrols alone" in text(response).lower()
    response = web.post(f"/patrols/zones/{site.zone2_id}/shifts",
                        {"weekdays": ["0"], "start_time": "21:00", "end_time": "20:00"},
                        follow_redirects=True)
    assert "ends before it starts" in text(response)
    response = web.post(f"/patrols/zones/{site.zone2_id}/shifts",
                        {"weekdays": ["0"], "start_time": "18:00", "end_time": "20:00"},
                        follow_redirects=True)
    assert "1 shift added" in text(response)
    assert web.get("/patrols/zones/999999").status_code == 404


def test_enrol_from_the_patrollers_page(web, site, make_member, app):
    _, number = make_member(first_name="Juma", other_names="Hassan")
    web.login("coordinator")
    response = web.post("/patrols/patrollers/enrol", {"member_no": number},
                        follow_redirects=True)
    assert "is enrolled" in text(response)
    response = web.post("/patrols/patrollers/enrol", {"member_no": number},
                        follow_redirects=True)
    assert "already a patrol volunteer" in text(response)
    response = web.post("/patrols/patrollers/enrol", {"member_no": "NOPE-1"},
                        follow_redirects=True)
    assert "No member has the number" in text(response)
    assert "Juma Hassan" in text(web.get("/patrols/patrollers"))


def test_swaps_page_approves_a_pending_swap(web, site, app):
    with app.app_context(), acting_as("test"):
        a = db.session.get(Assignment, site.theirs_id)
        swap = swaps.offer_shift(a.patroller, a, None)
        zone2_person = db.session.scalar(sa.select(Patroller).join(
            Patroller.availability).where(Patroller.availability.any(zone_id=site.zone2_id)))
        swaps.take_offer(zone2_person, swap)
        db.session.commit()
        swap_id, taker = swap.id, zone2_person.id
    web.login("coordinator")
    assert "not usually available" in text(web.get("/patrols/swaps"))
    web.post(f"/patrols/swaps/{swap_id}/decide", {"decision": "approve"})
    with app.app_context():
        assert db.session.get(Assignment, site.theirs_id).patroller_id == taker
    assert web.post("/patrols/swaps/999999/decide", {"decision": "approve"}).status_code == 404


def test_pages_render_in_swahili(web, site, app):
    with app.app_context():
        from association.auth.models import User

        for name in ("coordinator", "member"):
            db.session.scalar(sa.select(User).where(User.username == name)).language = "sw"
        db.session.commit()
    web.login("coordinator")
    for url in ("/patrols/", "/patrols/settings", "/patrols/patrollers", "/patrols/swaps",
                "/patrols/incidents", "/patrols/incidents/new", "/patrols/stipends",
                f"/patrols/zones/{site.zone1_id}", f"/patrols/patrollers/{site.own_id}"):
        assert web.get(url).status_code == 200, url
    web.logout()
    web.login("member")
    assert web.get("/patrols/me").status_code == 200
