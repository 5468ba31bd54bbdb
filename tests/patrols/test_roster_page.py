"""The roster on a phone (issue 21, item 2): tonight, this week (the default) or the whole
month, all zones or one, chosen by links that work without JavaScript and kept in the
address; bad choices get a message and the default, never a 500."""

import re
from datetime import date, timedelta

import pytest

from association.audit.services import acting_as
from association.core.time import month_end, month_start
from association.extensions import db
from association.members.models import Zone
from association.patrols import assignments, roster
from association.patrols.models import Patroller
from tests.patrols.conftest import EVENING, LATE, long_ago, template_of


def text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def week(app, people, patrol_ids):
    """Two zones with an evening and a late shift every night; one patroller on tonight's
    evening shift in zone 1, another on next week's Wednesday evening in zone 2."""
    with app.app_context(), acting_as("test"):
        made = type("Week", (), {})()
        made.tonight = roster.tonight()
        made.monday = roster.week_start(made.tonight)
        made.zone1_id, made.zone2_id = patrol_ids.zone1_id, patrol_ids.zone2_id
        made.zone1 = db.session.get(Zone, made.zone1_id).name
        made.zone2 = db.session.get(Zone, made.zone2_id).name
        made.templates = {}
        for zone_id in (made.zone1_id, made.zone2_id):
            for weekday in range(7):
                for start in (EVENING[0], LATE[0]):
                    made.templates[zone_id, weekday, start] = template_of(
                        zone_id, weekday, start).id
        tonight = db.session.get(Patroller, patrol_ids.v1_ids[0])
        assignments.assign(made.tonight, template_of(made.zone1_id, made.tonight.weekday(),
                                                     EVENING[0]), tonight, now=long_ago())
        tonight.member.first_name, tonight.member.other_names = "Zuhura", "Tonight"
        made.tonight_name = "Zuhura Tonight"
        made.later = made.monday + timedelta(days=9)  # next week's Wednesday
        later = db.session.get(Patroller, patrol_ids.v2_ids[0])
        assignments.assign(made.later, template_of(made.zone2_id, made.later.weekday(),
                                                   EVENING[0]), later, now=long_ago())
        later.member.first_name, later.member.other_names = "Kassim", "Later"
        made.later_name = "Kassim Later"
        db.session.commit()
        return made


def shift_links(page: str) -> set[tuple[int, date]]:
    """The (template id, night) of every shift row of the roster."""
    return {(int(t), date.fromisoformat(n))
            for t, n in re.findall(r'href="/patrols/shifts/(\d+)/([\d-]+)"', page)}


def expected(week, nights, zones=None) -> set[tuple[int, date]]:
    zones = zones or (week.zone1_id, week.zone2_id)
    return {(week.templates[z, night.weekday(), start], night)
            for night in nights for z in zones for start in (EVENING[0], LATE[0])}


def current(page: str) -> list[str]:
    return re.findall(r'aria-current="page">([^<]+)<', page)


def test_the_default_is_this_week(web, week):
    web.login("coordinator")
    page = text(web.get("/patrols/"))
    nights = [week.monday + timedelta(days=d) for d in range(7)]
    assert shift_links(page) == expected(week, nights)
    assert page.count('<tr class="') == 7 * 4  # not the month's 120 rows
    assert week.tonight_name in page and week.later_name not in page
    assert "Patrol roster, week of" in page
    assert current(page) == ["This week", "All zones"]
    # The whole month stays one link away, and so does its PDF to print.
    month = month_start(week.monday).strftime("%Y-%m")
    assert f'href="/patrols/?view=month&amp;month={month}"' in page
    assert f'href="/patrols/roster.pdf?month={month}"' in page
    # The previous and next weeks, kept in the address.
    assert f'href="/patrols/?view=week&amp;week={week.monday - timedelta(days=7)}"' in page
    assert f'href="/patrols/?view=week&amp;week={week.monday + timedelta(days=7)}"' in page


def test_tonight_shows_tonights_shifts_only(web, week):
    web.login("coordinator")
    page = text(web.get("/patrols/?view=tonight"))
    assert shift_links(page) == expected(week, [week.tonight])
    assert week.tonight_name in page and week.later_name not in page
    assert current(page) == ["Tonight", "All zones"]
    assert "Previous week" not in page


def test_another_week_and_one_zone(web, week):
    web.login("coordinator")
    next_monday = week.monday + timedelta(days=7)
    page = text(web.get(f"/patrols/?view=week&week={week.later.isoformat()}"))
    nights = [next_monday + timedelta(days=d) for d in range(7)]
    assert shift_links(page) == expected(week, nights)
    assert week.later_name in page and week.tonight_name not in page
    # One zone: only its shifts, the week kept; the zone's links keep the view.
    page = text(web.get(f"/patrols/?view=week&week={next_monday}&zone={week.zone2_id}"))
    assert shift_links(page) == expected(week, nights, [week.zone2_id])
    assert week.later_name in page and f"Only {week.zone2}." in page
    assert current(page) == ["This week", week.zone2]
    assert (f'href="/patrols/?view=week&amp;week={next_monday}&amp;zone={week.zone1_id}"'
            in page)
    assert f'href="/patrols/?view=week&amp;week={next_monday}"' in page  # all zones again
    assert f'href="/patrols/?view=tonight&amp;zone={week.zone2_id}"' in page
    page = text(web.get(f"/patrols/?view=tonight&zone={week.zone1_id}"))
    assert shift_links(page) == expected(week, [week.tonight], [week.zone1_id])


def test_the_whole_month_is_still_there(web, week):
    web.login("coordinator")
    month = month_start(week.later)
    page = text(web.get(f"/patrols/?month={month:%Y-%m}"))
    nights = [month + timedelta(days=d) for d in range((month_end(month) - month).days + 1)]
    assert shift_links(page) == expected(week, nights)
    assert current(page) == ["Whole month", "All zones"]
    assert 'action="/patrols/generate"' in page  # generating is a month's work
    page = text(web.get(f"/patrols/?view=month&month={month:%Y-%m}&zone={week.zone1_id}"))
    assert shift_links(page) == expected(week, nights, [week.zone1_id])
    assert f'href="/patrols/roster.pdf?month={month:%Y-%m}"' in page


@pytest.mark.parametrize("query,message", [
    ("view=year", "The roster has no view called year. Showing this week."),
    ("view=%3Cscript%3E", "The roster has no view called &lt;script&gt;. Showing this week."),
    ("zone=999", "There is no zone 999. Showing every zone."),
    ("zone=Kosovo", "There is no zone Kosovo. Showing every zone."),
    ("zone=-1", "There is no zone -1. Showing every zone."),
    ("zone=%C2%B2", "There is no zone \u00b2. Showing every zone."),
    ("zone=" + "9" * 5000, "There is no zone " + "9" * 20 + ". Showing every zone."),
    ("week=2026-13-45", "2026-13-45 is not a week the roster can show. Showing this week"),
    ("week=9999-12-31", "9999-12-31 is not a week the roster can show."),
    ("week=0001-01-01", "0001-01-01 is not a week the roster can show."),
    ("week=" + "x" * 500, "x" * 20 + " is not a week the roster can show."),
    ("view=week&week=next", "next is not a week the roster can show."),
])
def test_bad_choices_get_a_message_and_this_week(web, week, query, message):
    web.login("coordinator")
    page = text(web.get(f"/patrols/?{query}"))
    assert message in page
    nights = [week.monday + timedelta(days=d) for d in range(7)]
    assert shift_links(page) == expected(week, nights)


def test_a_bad_month_gets_a_message_and_this_month(web, week):
    web.login("coordinator")
    page = text(web.get("/patrols/?view=month&month=2026-13"))
    assert "2026-13 is not a month" in page
    assert current(page)[0] == "Whole month"
    month = month_start(week.tonight)
    assert (week.templates[week.zone1_id, month.weekday(), EVENING[0]], month) \
        in shift_links(page)


def test_the_roster_views_in_swahili(web, week, app):
    from flask_babel import force_locale, gettext

    web.login("coordinator")
    web.post("/language", {"language": "sw"})
    page = text(web.get("/patrols/?view=tonight&zone=999"))
    with app.test_request_context(), force_locale("sw"):
        words = [gettext("Tonight"), gettext("This week"), gettext("Whole month"),
                 gettext("All zones"),
                 gettext("There is no zone %(value)s. Showing every zone.", value="999")]
    for word in words:
        assert word in page
    assert "Whole month" not in page and "Showing every zone" not in page
