"""First-run setup of the association, and later changes by the chair."""

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.auth.models import Role
from association.auth.services import create_user
from association.extensions import db
from association.profile.models import AssociationProfile
from tests.conftest import PASSWORD, count

GOOD = {
    "name": "Kiamaiko Residents Security Association", "short_code": "kra",
    "registration_body": "community_groups", "registration_number": "CGR/NRB/0001",
    "county": "Nairobi", "sub_county": "Mathare", "ward": "Hospital", "estate": "Kiamaiko",
    "contact_phone": "0722 123 456", "mpesa_kind": "till", "mpesa_number": "5123456",
    "fiscal_year_start_month": "7",
}


@pytest.fixture
def fresh(app):
    """A new install: a chair and a treasurer, but no association profile yet."""
    with app.app_context(), acting_as("cli:create-admin"):
        create_user("chair", "Chair", PASSWORD, {Role.CHAIR}, must_change_password=False)
        create_user("treasurer", "Treasurer", PASSWORD, {Role.TREASURER},
                    must_change_password=False)
        db.session.commit()


def test_chair_is_sent_to_setup_and_saves_the_profile(app, web, fresh):
    web.login("chair")
    response = web.get("/members")
    assert response.headers["Location"].endswith("/setup")
    assert "Set up the association" in web.get("/setup").get_data(as_text=True)
    saved = web.post("/setup", GOOD)
    assert saved.status_code in (302, 303)
    with app.app_context():
        profile = db.session.query(AssociationProfile).one()
        assert (profile.short_code, profile.contact_phone, profile.fiscal_year_start_month) == (
            "KRA", "+254722123456", 7)
    assert web.get("/members").status_code == 200
    assert web.get("/setup").headers["Location"].endswith("/association")


def test_other_roles_are_told_to_wait(web, fresh):
    web.login("treasurer")
    response = web.get("/members")
    assert response.status_code == 503
    assert "has not yet entered" in response.get_data(as_text=True)
    assert web.get("/setup").status_code == 403


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "Enter the association"),
    ("short_code", "K1", "2 to 6 letters"),
    ("short_code", "TOOLONGX", "Field cannot be longer than 6 characters."),
    ("contact_phone", "12", "not a valid phone number"),
    ("mpesa_number", "12", "5 to 7 digits"),
    ("mpesa_number", "", "Enter the paybill or till number."),
    ("fiscal_year_start_month", "13", "Not a valid choice."),
    ("fiscal_year_start_month", "july", "Choose the month the financial year starts."),
    ("registration_body", "kings", "Not a valid choice."),
    ("mpesa_kind", " ", "Not a valid choice."),
    ("mpesa_kind", "bank", "Not a valid choice."),
    ("county", "c" * 61, "Field cannot be longer than 60 characters."),
])
def test_bad_setup_input_saves_nothing(app, web, fresh, field, value, message):
    web.login("chair")
    response = web.post("/setup", {**GOOD, field: value})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert count(AssociationProfile) == 0


def test_short_code_cannot_change_once_members_have_numbers(app, web, make_member):
    make_member()
    web.login("chair")
    response = web.post("/association", {**GOOD, "short_code": "NEW"})
    assert "cannot change" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(AssociationProfile).one().short_code == "MLK"
    ok = web.post("/association", {**GOOD, "short_code": "MLK", "name": "Renamed"})
    assert ok.status_code in (302, 303)


def test_association_name_and_role_show_on_every_page(web, people):
    web.login("treasurer")
    page = web.get("/members").get_data(as_text=True)
    assert "Mlango Kubwa Landlords and Tenants Association" in page
    assert "Treasurer" in page


def test_setup_page_needs_login(client, fresh):
    response = client.get("/setup")
    assert "/login" in response.headers["Location"]


def test_a_page_reads_its_user_and_the_profile_in_one_query(app, web, people):
    """Every logged-in page needs both: the profile comes with the user, not after it."""
    web.login("treasurer")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = web.get("/account/password").get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert "Mlango Kubwa Landlords and Tenants Association" in page
    reads = [s for s in statements if "association_profile" in s]
    assert len(reads) == 1 and "username" in reads[0]


def test_a_profile_changed_elsewhere_shows_on_the_next_page(app, web, people):
    """Another worker process saving the profile: no page keeps the old one."""
    web.login("treasurer")
    assert "Mlango Kubwa Landlords" in web.get("/members").get_data(as_text=True)
    with app.app_context(), acting_as("test"):
        db.session.execute(sa.update(AssociationProfile).values(name="Renamed Association"))
        db.session.commit()
    page = web.get("/members").get_data(as_text=True)
    assert "Renamed Association" in page and "Mlango Kubwa Landlords" not in page
