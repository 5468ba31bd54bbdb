"""The register's rules, called directly (no web client)."""

from datetime import date

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.members.models import (
    Category,
    ConsentChannel,
    ConsentPurpose,
    Member,
    MemberStatus,
    MemberStatusChange,
)
from association.members.services import (
    ConsentError,
    MemberDataError,
    MemberFilters,
    MemberNotFoundError,
    MemberStatusError,
    ZoneError,
    change_status,
    get_member_by_number,
    mask_national_id,
    member_query,
    record_consent,
    register_member,
    register_members,
    save_zone,
    update_member,
    withdraw_consent,
)
from tests.conftest import count, member_data


@pytest.fixture
def zone_id(app, setup_association):
    return setup_association.zone_id


@pytest.fixture
def svc(app, zone_id):
    """An app context with the association set up, acting as a test official."""
    with app.app_context(), acting_as("test"):
        yield zone_id
        db.session.rollback()


def test_members_are_numbered_from_the_short_code(svc):
    first = register_member(member_data(svc))
    second = register_member(member_data(svc))
    assert (first.member_no, second.member_no) == ("MLK-0001", "MLK-0002")
    assert first.status == MemberStatus.ACTIVE and first.status_since == first.joined_on
    assert [c.status for c in first.status_history] == [MemberStatus.ACTIVE]


@pytest.mark.parametrize("typed,stored", [
    ("0712345678", "+254712345678"),
    ("0712 345 678", "+254712345678"),
    ("+254 712 345 678", "+254712345678"),
    ("254712345678", "+254712345678"),
    ("0110123456", "+254110123456"),
    ("0101 234 567", "+254101234567"),
])
def test_phones_are_stored_as_e164(svc, typed, stored):
    assert register_member(member_data(svc, phone=typed)).phone == stored


@pytest.mark.parametrize("field,value,message", [
    ("phone", "12345", "not a valid phone number"),
    ("phone", "hello", "not a phone number"),
    ("phone", "07123456789012345", "not a valid phone number"),
    ("first_name", "   ", "first name is missing"),
    ("other_names", "", "surname"),
    ("first_name", "A" * 61, "too long"),
    ("national_id", "12-34", "4 to 20 letters or digits"),
    ("year_of_birth", 1850, "not a real year"),
    ("year_of_birth", today_in_nairobi().year - 10, "at least 18"),
    ("joined_on", date(2999, 1, 1), "future"),
    ("joined_on", None, "date the member joined"),
    ("category", None, "Choose a category"),
    ("zone_id", 999999, "zone"),
    ("notes", "x" * 2001, "Too long"),
])
def test_bad_details_are_refused_and_nothing_is_written(svc, field, value, message):
    with pytest.raises(MemberDataError) as raised:
        register_member(member_data(svc, **{field: value}))
    assert message in str(raised.value.problems[field])
    assert count(Member) == 0


def test_landlords_need_their_number_of_premises(svc):
    with pytest.raises(MemberDataError) as raised:
        register_member(member_data(svc, category=Category.LANDLORD, rental_premises=None))
    assert "rental premises" in str(raised.value.problems["rental_premises"])
    with pytest.raises(MemberDataError):
        register_member(member_data(svc, category=Category.LANDLORD, rental_premises=501))
    landlord = register_member(member_data(svc, category=Category.LANDLORD, rental_premises=6))
    assert landlord.rental_premises == 6
    resident = register_member(member_data(svc, rental_premises=4))
    assert resident.rental_premises is None  # only landlords have premises


def test_duplicate_phone_and_id_are_refused(svc):
    register_member(member_data(svc, phone="0712345678", national_id="12345678"))
    with pytest.raises(MemberDataError) as raised:
        register_member(member_data(svc, phone="+254 712 345678", national_id=" 12345678 "))
    assert "already has the phone number" in str(raised.value.problems["phone"])
    assert "already has that ID number" in str(raised.value.problems["national_id"])
    assert count(Member) == 1


def test_a_batch_is_all_or_nothing(svc):
    rows = [member_data(svc), member_data(svc, first_name=""), member_data(svc)]
    with pytest.raises(MemberDataError) as raised:
        register_members(rows)
    assert list(raised.value.problems) == [1]
    assert count(Member) == 0


def test_editing_keeps_number_and_checks_uniqueness_against_others(svc):
    a = register_member(member_data(svc, phone="0712000001"))
    register_member(member_data(svc, phone="0712000002"))
    update_member(a, member_data(svc, phone="0712000001", first_name="Faith"))
    assert (a.first_name, a.member_no) == ("Faith", "MLK-0001")
    with pytest.raises(MemberDataError):
        update_member(a, member_data(svc, phone="0712000002"))


def test_youth_flag_follows_the_year_of_birth(svc):
    today = date(2026, 6, 1)
    assert register_member(member_data(svc, year_of_birth=2008)).is_youth(today)
    assert register_member(member_data(svc, year_of_birth=1991)).is_youth(today)
    assert not register_member(member_data(svc, year_of_birth=1990)).is_youth(today)
    assert not register_member(member_data(svc, year_of_birth=None)).is_youth(today)


def test_status_changes_keep_a_dated_history(svc):
    member = register_member(member_data(svc, joined_on=date(2024, 1, 1)))
    change_status(member, MemberStatus.SUSPENDED, date(2025, 3, 1), "No dues for 6 months", None)
    change_status(member, MemberStatus.ACTIVE, date(2025, 5, 1), None, None)
    change_status(member, MemberStatus.LEFT, date(2026, 1, 31), "Moved to Kayole", None)
    db.session.flush()
    history = db.session.scalars(
        sa.select(MemberStatusChange.status).where(MemberStatusChange.member_id == member.id)
        .order_by(MemberStatusChange.effective_on)
    ).all()
    assert history == [MemberStatus.ACTIVE, MemberStatus.SUSPENDED, MemberStatus.ACTIVE,
                       MemberStatus.LEFT]
    assert (member.status, member.status_since) == (MemberStatus.LEFT, date(2026, 1, 31))


@pytest.mark.parametrize("status,when,reason,message", [
    (MemberStatus.ACTIVE, date(2025, 1, 1), None, "already"),
    (MemberStatus.LEFT, date(2025, 1, 1), "", "reason"),
    (MemberStatus.LEFT, date(2999, 1, 1), "Moved", "future"),
    (MemberStatus.SUSPENDED, date(2023, 1, 1), "Late", "before the current status"),
    (MemberStatus.SUSPENDED, date(2025, 1, 1), "x" * 301, "too long"),
])
def test_bad_status_changes_change_nothing(svc, status, when, reason, message):
    member = register_member(member_data(svc, joined_on=date(2024, 1, 1)))
    with pytest.raises(MemberStatusError) as raised:
        change_status(member, status, when, reason, None)
    assert message in str(raised.value)
    assert member.status == MemberStatus.ACTIVE and len(member.status_history) == 1


def test_consent_keeps_the_words_and_can_be_withdrawn(svc):
    member = register_member(member_data(svc))
    consent = record_consent(member, ConsentPurpose.SMS, ConsentChannel.PAPER,
                             date(2025, 2, 1), "en", None)
    assert "SMS" in consent.wording and consent.wording_version
    with pytest.raises(ConsentError):
        record_consent(member, ConsentPurpose.SMS, ConsentChannel.PHONE, date(2025, 2, 2),
                       "en", None)
    withdraw_consent(consent, date(2025, 6, 1), "Too many messages", None)
    assert not consent.is_active
    with pytest.raises(ConsentError):
        withdraw_consent(consent, date(2025, 6, 2), None, None)
    again = record_consent(member, ConsentPurpose.SMS, ConsentChannel.PHONE, date(2025, 7, 1),
                           "sw", None)
    assert again.is_active and again.language == "sw"


def test_consent_cannot_be_dated_in_the_future(svc):
    member = register_member(member_data(svc))
    with pytest.raises(ConsentError):
        record_consent(member, ConsentPurpose.PATROL, ConsentChannel.PAPER, date(2999, 1, 1),
                       "en", None)


@pytest.mark.parametrize("typed", ["MLK-0002", "mlk-0002", "MLK 2", "mlk2", " MLK-2 ", "2", "0002"])
def test_member_numbers_are_found_however_typed(svc, typed):
    register_member(member_data(svc))
    second = register_member(member_data(svc))
    assert get_member_by_number(typed).id == second.id


@pytest.mark.parametrize("typed", ["MLK-9", "XYZ-0001", "", "hello", "MLK-"])
def test_unknown_member_numbers(svc, typed):
    register_member(member_data(svc))
    with pytest.raises(MemberNotFoundError):
        get_member_by_number(typed)


def test_search_by_name_words_number_and_phone(svc):
    a = register_member(member_data(svc, first_name="Grace", other_names="Wanjiku Kamau",
                                     phone="0722111222"))
    register_member(member_data(svc, first_name="Peter", other_names="Kamau"))

    def found(**filters):
        return [m.id for m in db.session.scalars(member_query(MemberFilters(**filters)))]

    assert found(q="grace kamau") == [a.id]
    assert len(found(q="KAMAU")) == 2
    assert found(q="0722 111 222") == [a.id]
    assert found(q="MLK-0001") == [a.id]
    assert found(q="100%_") == []  # LIKE wildcards are matched literally


def test_zones(svc):
    with pytest.raises(ZoneError):
        save_zone("mabatini", None)  # same name, other case
    with pytest.raises(ZoneError):
        save_zone("   ", None)
    zone = save_zone("Kiamutisya", "Upper lanes")
    save_zone("Kiamutisya Upper", None, zone=zone)
    assert zone.name == "Kiamutisya Upper"


def test_national_ids_are_masked_to_their_last_digits():
    assert mask_national_id("23456789") == "•••••789"
    assert mask_national_id("1234") == "•••234"
    assert mask_national_id(None) == ""


def test_a_batch_cannot_repeat_a_phone_or_id(svc):
    rows = [member_data(svc, phone="0712000009", national_id="9999999"),
            member_data(svc, phone="0712 000 009", national_id="9999999")]
    with pytest.raises(MemberDataError) as raised:
        register_members(rows)
    assert set(raised.value.problems[1]) == {"phone", "national_id"}
    assert count(Member) == 0
