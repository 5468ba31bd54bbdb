"""The patrols' charts, drawn on the server: nights covered by zone on the roster and
incidents by month on the members' incident counts; counts only, never a person."""

from datetime import date, datetime, time, timedelta

from association.audit.services import acting_as
from association.auth.models import Role
from association.core import dates
from association.core.time import month_end, month_start, today_in_nairobi
from association.extensions import db
from association.patrols import assignments
from association.patrols.incidents import IncidentData, record_incident
from association.patrols.models import IncidentCategory, Patroller
from association.patrols.public import coverage_by_zone
from tests.meetings.test_transparency_charts import _figure
from tests.patrols.conftest import EVENING, LATE, long_ago, template_of


def test_the_roster_draws_nights_covered_by_zone(app, web, patrol_ids, make_user):
    night = today_in_nairobi() - timedelta(days=1)
    month = month_start(night)
    with app.app_context(), acting_as("test"):
        # Zone 1: both shifts with two each, covered. Zone 2: the evening only, short.
        plan = [(patrol_ids.zone1_id, EVENING, patrol_ids.v1_ids[:2]),
                (patrol_ids.zone1_id, LATE, patrol_ids.v1_ids[2:4]),
                (patrol_ids.zone2_id, EVENING, patrol_ids.v2_ids[:2])]
        for zone_id, shift, ids in plan:
            template = template_of(zone_id, night.weekday(), shift[0])
            for patroller_id in ids:
                assignments.assign(night, template, db.session.get(Patroller, patroller_id),
                                   now=long_ago())
        db.session.commit()
        assert coverage_by_zone(night, night) == [("Kosovo", 0, 1), ("Mabatini", 1, 1)]
        expected = coverage_by_zone(month, month_end(month))
    make_user("coordinator", Role.COORDINATOR)
    web.login("coordinator")
    html = web.get(f"/patrols/?month={month:%Y-%m}").get_data(as_text=True)
    svg, rows = _figure(html, "coverage-by-zone")
    assert 'role="img"' in svg and "Patrol nights covered, by zone" in svg
    assert rows == [[zone, str(covered), str(planned)] for zone, covered, planned in expected]
    assert [row[0] for row in rows] == ["Kosovo", "Mabatini"]
    # Nights from the night before on are planned in both zones; zone 2 is short throughout.
    assert rows[0][1] == "0" and rows[1][1] == "1" and int(rows[1][2]) >= 1
    # A month before the patrols started has nothing to draw.
    before = month_start(month - timedelta(days=1))
    html = web.get(f"/patrols/?month={before:%Y-%m}").get_data(as_text=True)
    part = html[html.index('id="coverage-by-zone"'):]
    part = part[:part.index("</figure>")]
    assert "Nothing to draw yet" in part and "<svg" not in part


def test_incidents_by_month_are_counts_folded_like_the_table_and_never_a_person(
        app, web, people, setup_association):
    today = today_in_nairobi()
    day = today - timedelta(days=1)  # in the past whenever the test runs
    with app.app_context(), acting_as("test"):
        for i in range(4):
            record_incident(IncidentData(
                datetime.combine(day, time(22, i)), setup_association.zone_id,
                "Behind Plot 12, Kiamutisya lane", IncidentCategory.HOUSE_BREAKIN,
                "Mama Wanjiru Njeri was attacked.", ["warned"],
                reporter_name="Baraka Ochieng", reporter_phone="0722 111 222"), None)
        record_incident(IncidentData(
            datetime.combine(day, time(23)), setup_association.zone2_id, "Lane 2",
            IncidentCategory.MUGGING, "A phone was taken.", ["warned"]), None)
        db.session.commit()
    web.login("member")
    html = web.get("/patrols/incidents/summary").get_data(as_text=True)
    svg, rows = _figure(html, "incidents-by-month")
    assert 'role="img"' in svg
    with app.test_request_context("/"):
        label = dates.month(day)
        first = dates.month(date(today.year - 1, today.month, 1))
        last = dates.month(today)
    # Every month from a year ago to this one, as the table below it covers.
    assert len(rows) == 13 and rows[0][0] == first and rows[-1][0] == last
    # Four in one cell and one (shown as "fewer than 3") in another: the month is "5 to 6".
    assert [label, "5 to 6"] in rows
    assert all(row[1] == "0" for row in rows if row[0] != label)
    for secret in ("Wanjiru", "Njeri", "Plot 12", "Kiamutisya", "Baraka", "0722", "attacked"):
        assert secret not in html, secret
