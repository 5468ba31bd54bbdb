"""The register through the web: forms refuse bad input and change nothing."""

import gzip
import re

import pytest
import sqlalchemy as sa

from association.extensions import db
from association.members.models import Member, MemberConsent, MemberStatus
from tests.conftest import count


def _form(zone_id, /, **overrides):
    data = {
        "first_name": "Mercy", "other_names": "Achieng Odhiambo", "phone": "0733 444 555",
        "national_id": "", "gender": "female", "year_of_birth": "1996", "category": "resident",
        "rental_premises": "", "zone_id": str(zone_id), "plot": "Plot 7", "house": "H2",
        "joined_on": "2025-03-01", "notes": "",
    }
    data.update(overrides)
    return data


def test_secretary_registers_a_member(app, web, people, setup_association):
    web.login("secretary")
    response = web.post("/members/new", _form(setup_association.zone_id), follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "is registered as member MLK-0003" in text
    with app.app_context():
        member = db.session.scalar(sa.select(Member).where(Member.member_no == "MLK-0003"))
        assert member.phone == "+254733444555" and member.first_name == "Mercy"


@pytest.mark.parametrize("overrides,message", [
    ({"first_name": ""}, "The first name is missing."),
    ({"other_names": ""}, "The other names (surname) are missing."),
    ({"first_name": "x" * 61}, "Field cannot be longer than 60 characters."),
    ({"phone": "0733"}, "is not a valid phone number"),
    ({"phone": "call me"}, "is not a phone number"),
    ({"phone": "0" * 31}, "Field cannot be longer than 30 characters."),
    ({"year_of_birth": "nineteen"}, "Not a valid integer value."),
    ({"year_of_birth": "1800"}, "The year of birth is not a real year."),
    ({"category": "king"}, "Not a valid choice."),
    ({"category": "landlord", "rental_premises": ""}, "how many rental premises"),
    ({"category": "landlord", "rental_premises": "0"}, "Enter a number from 1 to 500."),
    ({"category": "landlord", "rental_premises": "-3"}, "Enter a number from 1 to 500."),
    ({"category": "landlord", "rental_premises": "9" * 20}, "Enter a number from 1 to 500."),
    ({"zone_id": ""}, "Choose the member"),
    ({"zone_id": "999999"}, "Not a valid choice."),
    ({"zone_id": "abc"}, "Choose the member"),
    ({"joined_on": "31/02/2025"}, "31/02/2025 is not a day of the calendar."),
    ({"joined_on": "2999-01-01"}, "The join date cannot be in the future."),
    ({"gender": "robot"}, "Not a valid choice."),
    ({"national_id": "<script>"}, "4 to 20 letters or digits"),
    ({"notes": "n" * 2001}, "Field cannot be longer than 2000 characters."),
])
def test_bad_member_forms_show_the_problem_and_write_nothing(app, web, setup_association,
                                                             overrides, message):
    web.login("chair")
    with app.app_context():
        before = count(Member)
    response = web.post("/members/new", _form(setup_association.zone_id, **overrides))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert count(Member) == before


def test_duplicate_phone_in_the_form(app, web, make_member, setup_association):
    make_member(phone="0733444555")
    web.login("chair")
    response = web.post("/members/new", _form(setup_association.zone_id))
    assert "already has the phone number +254733444555" in response.get_data(as_text=True)
    with app.app_context():
        assert count(Member) == 1


def test_form_without_csrf_token_is_refused(app, client, web, setup_association):
    web.login("chair")
    response = client.post("/members/new", data=_form(setup_association.zone_id))
    assert response.status_code == 400
    with app.app_context():
        assert count(Member) == 0


def test_script_in_a_name_comes_back_escaped(app, web, setup_association):
    web.login("chair")
    web.post("/members/new", _form(setup_association.zone_id,
                                   first_name='<script>alert("x")</script>'))
    page = web.get("/members").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_edit_is_saved_and_audited(app, web, make_member, setup_association):
    member_id, _ = make_member()
    web.login("chair")
    assert web.get(f"/members/{member_id}/edit").status_code == 200
    response = web.post(f"/members/{member_id}/edit",
                        _form(setup_association.zone2_id, first_name="Joy", phone=""))
    assert response.status_code in (302, 303)
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert (member.first_name, member.phone, member.zone_id) == (
            "Joy", None, setup_association.zone2_id)
        from association.audit.models import AuditEvent

        last = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "member").order_by(AuditEvent.seq.desc())).first()
        assert last.action == "update" and '"first_name":"Joy"' in last.after


def test_bad_edit_changes_nothing(app, web, make_member, setup_association):
    member_id, _ = make_member(first_name="Rehema")
    web.login("chair")
    response = web.post(f"/members/{member_id}/edit",
                        _form(setup_association.zone_id, first_name="", phone="bad"))
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Member, member_id).first_name == "Rehema"


def test_status_change_through_the_web(app, web, make_member):
    member_id, _ = make_member()
    web.login("chair")
    bad = web.post(f"/members/{member_id}/status", {"status": "left", "effective_on":
                                                    "2025-06-01", "reason": ""},
                   follow_redirects=True)
    assert "Give the reason" in bad.get_data(as_text=True)
    bad_date = web.post(f"/members/{member_id}/status", {"status": "left", "effective_on":
                                                         "not-a-date", "reason": "Moved"},
                        follow_redirects=True)
    assert "not-a-date is not a date." in bad_date.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Member, member_id).status == MemberStatus.ACTIVE
    web.post(f"/members/{member_id}/status", {"status": "left", "effective_on": "2025-06-01",
                                              "reason": "Moved to Kayole"})
    with app.app_context():
        assert db.session.get(Member, member_id).status == MemberStatus.LEFT


def test_consent_recorded_and_withdrawn_by_the_member(app, web, people):
    web.login("chair")
    response = web.post(f"/members/{people.own_member_id}/consents",
                        {"purpose": "sms", "channel": "paper", "language": "sw",
                         "given_on": "2025-02-01"}, follow_redirects=True)
    assert "Consent recorded." in response.get_data(as_text=True)
    bad = web.post(f"/members/{people.own_member_id}/consents",
                   {"purpose": "everything", "channel": "paper", "language": "en",
                    "given_on": "2025-02-01"}, follow_redirects=True)
    assert "Not a valid choice." in bad.get_data(as_text=True)
    web.logout()
    with app.app_context():
        consent = db.session.scalar(sa.select(MemberConsent))
        consent_id = consent.id
    web.login("member")
    page = web.get(f"/members/{people.own_member_id}").get_data(as_text=True)
    assert "Withdraw" in page
    web.post(f"/members/{people.own_member_id}/consents/{consent_id}/withdraw", {"reason": ""})
    with app.app_context():
        assert db.session.get(MemberConsent, consent_id).withdrawn_on is not None


def test_list_search_filters_and_paging(app, web, make_member, setup_association):
    app.config["MEMBERS_PER_PAGE"] = 3
    for i in range(7):
        make_member(first_name=f"Person{i}", other_names="Wekesa" if i % 2 else "Barasa")
    web.login("chair")
    first = web.get("/members").get_data(as_text=True)
    assert "7 members found" in first and "Page 1 of 3" in first
    third = web.get("/members?page=3").get_data(as_text=True)
    assert "MLK-0007" in third and "MLK-0001" not in third
    assert "3 members found" in web.get("/members?q=wekesa").get_data(as_text=True)
    assert "1 member found" in web.get("/members?q=mlk-4").get_data(as_text=True)
    zone = setup_association.zone2_id
    assert "0 members found" in web.get(f"/members?zone={zone}").get_data(as_text=True)
    assert "7 members found" in web.get("/members?status=active&category=resident").get_data(
        as_text=True)


@pytest.mark.parametrize("query", [
    "?page=abc", "?page=-1", "?page=99999", "?zone=abc", "?zone=99999", "?category=king",
    "?status=dead", "?q=" + "x" * 500, "?q=%27%3B%20DROP%20TABLE%20member%3B--",
    "?q=%25", "?q=%00",
])
def test_bad_list_queries_never_fail(app, web, make_member, query):
    make_member()
    web.login("chair")
    response = web.get("/members" + query)
    assert response.status_code in (200, 400, 404)
    with app.app_context():
        assert count(Member) == 1


def test_a_list_page_of_fifty_weighs_under_60_kb_with_its_css(app, web, make_member):
    for i in range(50):
        make_member(first_name=f"Member{i}", other_names="Nyambura Wairimu Wanjiku",
                    national_id=f"3{i:07d}")
    web.login("chair")
    page = web.get("/members")
    css = web.get("/static/app.css")
    css_bytes = css.data
    css.close()
    assert page.get_data(as_text=True).count('href="/members/') >= 50
    total = len(page.data) + len(css_bytes)
    assert total < 60 * 1024, total
    assert len(gzip.compress(page.data)) < 15 * 1024


def test_zone_forms(app, web, people, setup_association):
    web.login("coordinator")
    ok = web.post("/zones", {"name": "Kiamaiko", "description": "By the goat market"},
                  follow_redirects=True)
    assert "Zone Kiamaiko added." in ok.get_data(as_text=True)
    dup = web.post("/zones", {"name": "  kiamaiko ", "description": ""})
    assert "There is already a zone called" in dup.get_data(as_text=True)
    empty = web.post("/zones", {"name": "", "description": ""})
    assert "Give the zone a name." in empty.get_data(as_text=True)
    long = web.post("/zones", {"name": "z" * 81, "description": ""})
    assert "Field cannot be longer than 80 characters." in long.get_data(as_text=True)
    renamed = web.post(f"/zones/{setup_association.zone_id}", {"name": "Mabatini A",
                                                               "description": ""})
    assert renamed.status_code in (302, 303)
    taken = web.post(f"/zones/{setup_association.zone_id}", {"name": "Kosovo",
                                                             "description": ""})
    assert "There is already a zone called" in taken.get_data(as_text=True)


def test_export_links_carry_the_filters_but_not_stray_arguments(web, make_member):
    make_member()
    web.login("chair")
    page = web.get("/members?q=amina&format=pdf&page=1&x=1").get_data(as_text=True)
    links = re.findall(r'href="(/members/export[^"]*)"', page)
    assert links == ["/members/export?format=csv&amp;q=amina",
                     "/members/export?format=xlsx&amp;q=amina"]


def test_a_member_record_leads_to_paying_and_recording_payments(web, people):
    web.login("member")
    own = web.get(f"/members/{people.own_member_id}").get_data(as_text=True)
    assert 'href="/mpesa/pay"' in own and "/ledger/payments/new" not in own
    web.logout()
    web.login("treasurer")
    page = web.get(f"/members/{people.other_member_id}").get_data(as_text=True)
    number = re.search(r"MLK-\d{4}", page).group(0)
    assert f'href="/mpesa/pay?member={number}"' in page
    assert f'href="/ledger/payments/new?member={number}"' in page
    web.logout()
    web.login("secretary")
    page = web.get(f"/members/{people.other_member_id}").get_data(as_text=True)
    assert "/mpesa/pay" not in page and "/ledger/payments/new" not in page


def test_every_page_links_to_the_public_transparency_page(client, setup_association):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/transparency"' in page
    assert client.get("/transparency").status_code == 200
