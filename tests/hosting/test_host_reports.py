"""Figures across associations for the host or a programme (issue 22 item 5)."""

import csv
import io
from datetime import date, timedelta

import pytest

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.hosting.services import NewAssociation, create_association
from association.hosting.tenancy import use
from association.ledger.models import PaymentMethod
from association.ledger.payments import record_payment
from association.meetings.attendance import mark_attendance
from association.meetings.meetings import MeetingData, create_meeting
from association.meetings.models import AttendanceStatus, MeetingType
from association.members.models import Gender
from association.members.services import register_member, save_zone
from tests.conftest import make_profile, member_data

SECRETS = ("Zuberi", "Mwakilishi", "Nyokabi", "0733999111", "733 999 111", "98765432",
           "+254733999111")


def _books(app, names, payments, present):
    """In the chosen association: members (with distinctive names and phones), payments
    this year and a meeting with ``present`` of them present."""
    today = today_in_nairobi()
    with acting_as("test"):
        zone = save_zone(f"Zone {len(names)}", None)
        members = [register_member(member_data(zone.id, first_name=first, other_names=other,
                                               phone=phone, gender=gender,
                                               year_of_birth=today.year - age,
                                               national_id=national_id))
                   for first, other, phone, gender, age, national_id in names]
        for index, cents in payments:
            record_payment(members[index], cents, PaymentMethod.CASH, today, None)
        meeting = create_meeting(MeetingData(
            type=MeetingType.GENERAL, title="Baraza", venue="Hall", convener="Chair",
            held_on=today - timedelta(days=1), notice_on=today - timedelta(days=8),
            agenda=["Security"]), None)
        for member in members[:present]:
            mark_attendance(meeting, member, AttendanceStatus.PRESENT)
        db.session.commit()


PEOPLE = [("Zuberi", "Mwakilishi", "0733999111", Gender.MALE, 30, "98765432"),
          ("Nyokabi", "Wairimu", "0733999222", Gender.FEMALE, 50, None),
          ("Amani", "Kilonzo", "0733999333", Gender.FEMALE, 25, None)]


@pytest.fixture
def test_books(app, setup_association):
    with app.app_context():
        _books(app, PEOPLE, [(0, 5_000), (0, 5_000), (1, 30_000)], present=3)


def test_reports_sum_each_association_and_show_no_personal_data(signed_in, test_books):
    response = signed_in.get("/hosting/reports")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "KES 400" in text  # collected: 50 + 50 + 300
    assert "<td>2</td>" in text  # paying members
    assert "<td>3</td>" in text  # present at the meeting
    for secret in SECRETS:
        assert secret not in text


def test_reports_csv(signed_in, test_books):
    response = signed_in.get("/hosting/reports?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    header, test_row, total = rows[1], rows[2], rows[3]
    figures = dict(zip(header, test_row, strict=True))
    assert figures["Association"] == "TEST"
    assert figures["Collected (KES)"] == "400.00" and figures["Paying members"] == "2"
    assert figures["Meetings held"] == "1" and figures["Members present"] == "3"
    assert (figures["Women"], figures["Men"], figures["Youth (18-35)"]) == ("2", "1", "2")
    assert dict(zip(header, total, strict=True))["Collected (KES)"] == "400.00"
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("query, message", [
    ("from=2026-13-01", "From"),
    (f"from={date(2026, 5, 1)}&to={date(2026, 4, 1)}", "starts after it ends"),
    ("associations=TEST,NOPE", "No association is called NOPE."),
])
def test_reports_refuse_bad_input(signed_in, query, message):
    response = signed_in.get(f"/hosting/reports?{query}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert message in text and "Paying members" not in text


def test_reports_need_a_host_administrator(host, web, setup_association):
    response = host.get("/hosting/reports?format=csv")
    assert response.status_code == 302 and "/hosting/login" in response.location
    web.login("chair")
    assert web.get("/hosting/reports").status_code == 404


@pytest.mark.committed(reason="creates a second association: its own database file or "
                              "schema, and a catalogue row")
def test_a_programme_of_two_associations_adds_up(app, signed_in, setup_association):
    with app.app_context():
        _books(app, PEOPLE, [(0, 5_000)], present=1)
    tenant, _password = create_association(app, NewAssociation(
        short="BBB", name="Bondeni Block", admin_phone="0722000002"))
    with use(tenant, app), acting_as("test"):
        make_profile(name="Bondeni Block", short_code="BBB")
        _books(app, [("Kazungu", "Baya", "0744000111", Gender.MALE, 60, None)],
               [(0, 70_000)], present=1)
    rows = list(csv.reader(io.StringIO(signed_in.get(
        "/hosting/reports?format=csv&associations=TEST,BBB").get_data(as_text=True))))
    header = rows[1]
    collected = {row[0]: dict(zip(header, row, strict=True))["Collected (KES)"]
                 for row in rows[2:]}
    assert collected == {"TEST": "50.00", "BBB": "700.00", "": "750.00"}
    only = list(csv.reader(io.StringIO(signed_in.get(
        "/hosting/reports?format=csv&associations=bbb").get_data(as_text=True))))
    assert [row[0] for row in only[2:]] == ["BBB", ""]
    assert "Kazungu" not in signed_in.get("/hosting/reports").get_data(as_text=True)
