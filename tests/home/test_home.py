"""The home page: a section per role the user holds, each item leading to its page, only
what the role may see; and a public home for visitors, naming nobody."""

import re
from datetime import date, datetime, time, timedelta

import pytest

from association.audit.services import acting_as
from association.auth.models import Role
from association.core.time import add_months, month_start, today_in_nairobi
from association.extensions import db
from association.home import services
from association.ledger.dues import RateInput, bill_month
from association.ledger.models import PaymentMethod
from association.ledger.payments import record_payment
from association.ledger.periods import close_month
from association.ledger.standing import standing_of
from association.meetings.meetings import MeetingData, create_meeting
from association.meetings.minutes import circulate_minutes, save_minutes
from association.meetings.models import MeetingType
from association.members.models import Category, Member, Zone
from association.patrols import assignments, patrollers, shifts, swaps
from association.patrols.incidents import IncidentData, record_incident
from association.patrols.models import IncidentCategory
from tests.conftest import Web

RATES = [RateInput(Category.RESIDENT, 5_000), RateInput(Category.LANDLORD, 30_000, 1, None)]
LONG_AGO = datetime(2000, 1, 1)


def _page(web: Web, url: str = "/") -> str:
    response = web.get(url)
    assert response.status_code == 200, (url, response.status_code, response.headers)
    return response.get_data(as_text=True)


def _main(page: str) -> str:
    return page[page.index("<main"):page.index("</main>")]


def _hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def _section(page: str, name: str) -> str:
    found = re.search(rf'<section class="home-section home-{name}".*?</section>', page, re.S)
    assert found, f"no {name} section"
    return found.group(0)


class World:
    """What :func:`world` made."""


@pytest.fixture
def world(app, people):
    """Rates; last month's dues charged; the member (Baraka) paid 30 cash today and owes;
    he patrols tonight; a baraza to come; minutes circulated; an incident last night."""
    from association.ledger.dues import add_rate_schedule

    made = World()
    today = today_in_nairobi()
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), RATES, "AGM 2025-01-10, resolution 2", None)
        last_month = add_months(month_start(today), -1)
        bill_month(last_month)
        own = db.session.get(Member, people.own_member_id)
        other = db.session.get(Member, people.other_member_id)
        payment = record_payment(own, 3_000, PaymentMethod.CASH, today, None)
        record_payment(other, 12_000, PaymentMethod.BANK, today, None)
        made.receipt_no = payment.receipt.number
        zone = db.session.get(Zone, own.zone_id)
        templates = shifts.add_templates(zone, list(range(7)), time(21), time(1))
        baraka = patrollers.enrol(own)
        partner = patrollers.enrol(other)
        night = services.tonight()
        template = next(t for t in templates if t.weekday == night.weekday())
        made.assignment, _ = assignments.assign(night, template, baraka, now=LONG_AGO)
        held, _ = assignments.assign(night, template, partner, now=LONG_AGO)
        swaps.offer_shift(partner, held, "Harusi", now=LONG_AGO)
        made.template_id, made.night = template.id, night
        baraza = create_meeting(MeetingData(
            type=MeetingType.GENERAL, title="Baraza ya Desemba", held_on=today + timedelta(days=3),
            venue="Chief's camp", convener="Chair", agenda=["Usalama"]), None)
        held_meeting = create_meeting(MeetingData(
            type=MeetingType.COMMITTEE, title="Kamati ya Novemba",
            held_on=today - timedelta(days=10), venue="Office", convener="Chair",
            agenda=["Fedha"]), None)
        save_minutes(held_meeting, {held_meeting.agenda[0].id: ("Tulijadili", "Tumeamua")}, "sw")
        circulate_minutes(held_meeting)
        incident = record_incident(IncidentData(
            datetime.combine(today - timedelta(days=1), time(22)), zone.id, "Lane 2",
            IncidentCategory.MUGGING, "A phone was taken.", ["warned"],
            reporter_name="Jane Reporter", reporter_phone="0712000999"), None)
        db.session.commit()
        made.baraza_id, made.circulated_id = baraza.id, held_meeting.id
        made.incident_id, made.last_month = incident.id, last_month
        made.standing = standing_of(own.id)
        made.owes_cents = made.standing.balance_cents
    made.people = people
    return made


# --- Each role's section -----------------------------------------------------------------


def test_the_member_sees_their_balance_pay_button_shift_meeting_and_receipt(app, web, world):
    from association.core.money import format_kes

    web.login("member")
    page = _page(web)
    main = _main(page)
    member = _section(main, "member")
    # The one balance (ledger/standing.py), with its words, and what it is: dues charged
    # for last month (50) less 30 paid today.
    assert world.owes_cents == 2_000
    assert "Balance" in member and format_kes(world.owes_cents) in member
    hrefs = _hrefs(member)
    assert "/mpesa/pay" in hrefs and 'class="button pay-now"' in member
    assert f"/receipts/{world.receipt_no}" in hrefs and world.receipt_no in member
    assert "/patrols/me" in hrefs
    assert "21:00-01:00" in member
    assert "Baraza ya Desemba" in member  # the next general meeting
    assert f"/members/{world.people.own_member_id}/statement" in hrefs
    for href in hrefs:  # every link opens for the member
        assert web.get(href).status_code == 200, href
    # Only the member's own section: no one else's figures, names or pages.
    for other in ("treasurer", "coordinator", "secretary", "auditor"):
        assert f"home-{other}" not in main
    assert "Received today" not in main and "Arrears" not in main
    assert "Chebet" not in main and "Kamati ya Novemba" not in main
    assert not {"/ledger", "/reports/arrears", "/mpesa", "/patrols/swaps"} & _hrefs(main)


def test_a_member_who_patrols_nothing_and_paid_nothing_is_told_so(app, web, people):
    with app.app_context(), acting_as("test"):
        from association.ledger.dues import add_rate_schedule

        add_rate_schedule(date(2025, 1, 1), RATES, "AGM", None)
        db.session.commit()
    web.login("member")
    member = _section(_main(_page(web)), "member")
    assert "KES 0.00" in member and "No payments yet" in member
    assert "My next shift" not in member  # not a patroller
    assert "/mpesa/pay" in _hrefs(member)


def test_the_treasurer_sees_todays_money_mpesa_arrears_and_the_months_tasks(app, web, world):
    from association.ledger.reports import arrears

    web.login("treasurer")
    main = _main(_page(web))
    money = _section(main, "treasurer")
    # Today: 30 cash from Baraka and 120 by bank from Chebet.
    assert "KES 150.00" in money and "2 payments" in money
    assert "KES 30.00" in money and "KES 120.00" in money
    with app.app_context():
        owed = arrears(today_in_nairobi()).figures
    assert owed["members"] == 1
    from association.core.money import format_kes

    assert format_kes(owed["total"]) in money and "1 member owes" in money
    hrefs = _hrefs(money)
    today = today_in_nairobi().isoformat()
    assert f"/reports/collections?from={today}&amp;to={today}" in hrefs
    assert {"/reports/arrears", "/mpesa", "/mpesa/suspense", "/ledger/dues",
            "/ledger/periods"} <= hrefs
    assert "0 payments to confirm" in money and "0 in suspense" in money
    assert "are charged" in money and "is not closed yet" in money
    # The treasurer holds no other role: no other section.
    for other in ("member", "coordinator", "secretary", "auditor"):
        assert f"home-{other}" not in main
    # Every link the section shows opens for the treasurer.
    for href in hrefs:
        assert web.get(href.replace("&amp;", "&")).status_code == 200, href


def test_the_treasurers_tasks_follow_the_books(app, web, people):
    with app.app_context(), acting_as("test"):
        from association.ledger.dues import add_rate_schedule

        add_rate_schedule(date(2025, 1, 1), RATES, "AGM", None)
        db.session.commit()
    web.login("treasurer")
    money = _section(_page(web), "treasurer")
    assert "are not charged yet" in money and "is not closed yet" in money
    last_month = add_months(month_start(today_in_nairobi()), -1)
    with app.app_context(), acting_as("test"):
        bill_month(last_month)
        close_month(last_month, None)
        db.session.commit()
    money = _section(_page(web), "treasurer")
    assert "are charged" in money and "is closed" in money
    assert "not charged" not in money and "not closed" not in money


def test_the_coordinator_sees_tonights_shifts_swaps_and_the_last_incidents(app, web, world):
    web.login("coordinator")
    main = _main(_page(web))
    patrols = _section(main, "coordinator")
    hrefs = _hrefs(patrols)
    shift = f"/patrols/shifts/{world.template_id}/{world.night.isoformat()}"
    assert shift in hrefs and "21:00-01:00" in patrols
    assert "Baraka Otieno" in patrols
    assert re.search(r"Chebet Kiprono\s*<span class=\"muted\">\(offered for a swap\)", patrols)
    assert {"/patrols/", "/patrols/swaps", "/patrols/incidents",
            f"/patrols/incidents/{world.incident_id}"} <= hrefs
    assert f"INC-{world.incident_id}" in patrols and "Mugging" in patrols
    # Who reported it stays on the incident's page, for those who may see it.
    assert "Jane Reporter" not in main and "0712000999" not in main
    assert not {"/ledger", "/reports/arrears", "/mpesa"} & _hrefs(main)
    for href in hrefs:
        assert web.get(href).status_code == 200, href


def test_tonight_is_last_night_until_its_shifts_have_ended(app, world):
    with app.app_context():
        today = today_in_nairobi()
        late = datetime.combine(today, time(0, 30))  # the 21:00-01:00 shift is still on
        assert services.tonight(late) == today - timedelta(days=1)
        assert services.tonight(datetime.combine(today, time(1, 30))) == today
        assert services.tonight(datetime.combine(today, time(20))) == today


def test_the_secretary_sees_the_next_meeting_minutes_to_confirm_and_compliance(app, web,
                                                                              world):
    web.login("secretary")
    main = _main(_page(web))
    meetings = _section(main, "secretary")
    hrefs = _hrefs(meetings)
    assert f"/meetings/{world.baraza_id}" in hrefs and "Baraza ya Desemba" in meetings
    assert f"/meetings/{world.circulated_id}" in hrefs and "Kamati ya Novemba" in meetings
    assert "/compliance" in hrefs
    assert "AGM held within the last 12 months" in meetings  # none recorded: due
    assert "home-treasurer" not in main and "Received today" not in main
    for href in hrefs:
        assert web.get(href).status_code == 200, href


def test_the_auditor_gets_the_reports_and_the_pack(app, web, world):
    web.login("auditor")
    main = _main(_page(web))
    audit = _section(main, "auditor")
    hrefs = _hrefs(audit)
    assert {"/reports", "/reports/auditor-pack", "/audit", "/ledger/periods"} <= hrefs
    assert "home-treasurer" not in main and "Received today" not in main
    for href in hrefs:
        assert web.get(href).status_code == 200, href


def test_the_chair_sees_money_patrols_and_meetings(app, web, world):
    web.login("chair")
    main = _main(_page(web))
    order = [m.group(1) for m in re.finditer(r'<section class="home-section home-(\w+)"', main)]
    assert order == ["treasurer", "coordinator", "secretary"]
    assert "KES 150.00" in main and "Baraka Otieno" in main and "Baraza ya Desemba" in main


def test_a_user_with_several_roles_sees_each_of_theirs(app, web, world, make_user):
    make_user("mama", Role.TREASURER, Role.COORDINATOR, Role.MEMBER,
              member_id=world.people.other_member_id)
    web.login("mama")
    main = _main(_page(web))
    order = [m.group(1) for m in re.finditer(r'<section class="home-section home-(\w+)"', main)]
    assert order == ["member", "treasurer", "coordinator"]
    # Her own standing: Chebet paid 120 against 50 charged.
    assert "Paid in advance" in _section(main, "member")
    assert "KES 150.00" in _section(main, "treasurer")


def test_a_section_needs_the_permissions_of_its_pages(app, world, monkeypatch):
    """A role that lost a permission loses the section, whatever its name says."""
    from association.auth import permissions

    with app.app_context():
        class Someone:
            roles = {Role.TREASURER}
            member_id = None

            def can(self, permission):
                return permissions.allowed(self.roles, permission)

        assert services.section_names(Someone()) == ["treasurer"]
        monkeypatch.setitem(permissions.PERMISSIONS, "ledger.view", frozenset({Role.CHAIR}))
        assert services.section_names(Someone()) == []
        Someone.roles = {Role.MEMBER}
        assert services.section_names(Someone()) == []


def test_the_home_works_in_swahili(app, web, world):
    web.login("treasurer")
    web.post("/language", {"language": "sw", "next": "/"})
    main = _main(_page(web))
    assert "Imepokelewa leo" in main and "Received today" not in main


# --- The visitor's home ------------------------------------------------------------------


def test_a_visitor_gets_the_public_home_which_names_nobody(app, client, world):
    from association.core.money import format_kes
    from association.meetings.transparency import month_summary

    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    main = _main(page)
    assert "Mlango Kubwa Landlords and Tenants Association" in main
    with app.app_context():
        summary = month_summary(today_in_nairobi())
    assert summary.income_cents == 15_000
    assert format_kes(summary.income_cents) in main
    hrefs = _hrefs(main)
    assert {"/transparency", "/login"} <= hrefs
    assert 'action="/verify"' in main and 'name="number"' in main and 'name="c"' in main
    # Nobody is named: no member, patroller, reporter, number, phone or receipt.
    for private in ("Baraka", "Chebet", "Otieno", "Jane Reporter", "0712000999",
                    world.people.own_member_no, world.people.other_member_no, world.receipt_no,
                    "Kamati ya Novemba"):
        assert private not in page, private
    assert "<nav" not in page  # no menu for a visitor


def test_private_pages_still_send_a_visitor_to_log_in(client, world):
    for url in ("/members", "/ledger", "/reports/arrears", "/patrols/", "/meetings", "/me",
                "/mpesa/pay", f"/receipts/{world.receipt_no}"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_before_setup_a_visitor_is_sent_to_log_in(client):
    response = client.get("/")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_the_home_still_asks_a_new_password_first(app, web, make_user):
    make_user("newbie", Role.SECRETARY, must_change_password=True)
    web.login("newbie")
    response = web.get("/")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith("/account/password")


# --- The receipt check box ---------------------------------------------------------------


def _code(app, number: str) -> str:
    from association.ledger.receipts import get_receipt

    with app.app_context():
        return get_receipt(number).check_code


def test_the_check_box_leads_to_the_receipts_check_page(app, client, world):
    code = _code(app, world.receipt_no)
    typed = " " + world.receipt_no.lower().replace("-", " -", 1) + " "
    response = client.get("/verify", query_string={"number": typed, "c": code.upper()})
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == f"/verify/{world.receipt_no}?c={code}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This is a genuine receipt of the association." in page and "KES 30.00" in page
    assert "Baraka" not in page


def test_a_wrong_check_code_is_not_genuine(app, client, world):
    response = client.get("/verify", query_string={"number": world.receipt_no,
                                                   "c": "00000000"}, follow_redirects=True)
    assert response.status_code == 404
    assert "Not a genuine receipt." in response.get_data(as_text=True)


@pytest.mark.parametrize("number,code,message", [
    ("", "1a2b3c4d", "Type the receipt number"),
    ("MLK-2026-000001", "", "Type the check code"),
    ("not a number", "1a2b3c4d", "A receipt number looks like MLK-2026-000123."),
    ("MLK-2026-000001", "xyz!", "The check code has only the digits 0-9"),
    ("MLK-2026-" + "1" * 40, "1a2b3c4d", "Field cannot be longer than 30 characters."),
])
def test_bad_input_in_the_check_box_is_explained(client, world, number, code, message):
    response = client.get("/verify", query_string={"number": number, "c": code})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'name="number"' in page


def test_the_check_box_alone_is_a_page(client, world):
    page = client.get("/verify").get_data(as_text=True)
    assert "Check a receipt" in page and 'name="c"' in page and 'class="error"' not in page


def test_the_check_box_speaks_swahili(client, world):
    Web(client).post("/language", {"language": "sw", "next": "/"})
    page = client.get("/verify", query_string={"number": "x", "c": "1"}).get_data(as_text=True)
    assert "Nambari ya risiti inaonekana hivi: MLK-2026-000123." in page
    assert "Kagua risiti" in page
