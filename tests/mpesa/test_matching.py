"""Matching M-Pesa payments to members: sloppy account numbers, phones, hashed MSISDNs."""

import hashlib

import pytest

from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.members.models import Member, MemberStatus
from association.members.services import change_status, register_members
from association.mpesa import matching
from association.mpesa.matching import MatchedBy, find_match, match_member
from tests.conftest import member_data


@pytest.fixture
def register(app, make_member):
    """Members 1..3 (MLK-0001..0003) with known phones; member 3 has left."""
    ids = {}
    ids[1], _ = make_member(first_name="Amina", phone="0712345678")
    ids[2], _ = make_member(first_name="Baraka", phone="0110123456")
    ids[3], _ = make_member(first_name="Chebet", phone="0722000333")
    with app.app_context(), acting_as("test"):
        change_status(db.session.get(Member, ids[3]), MemberStatus.LEFT, today_in_nairobi(),
                      "Moved to Kayole", None)
        db.session.commit()
    with app.app_context():
        yield ids


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("typed", [
    "MLK-0001", "mlk 1", "MLK0001", "Mlk-001", "1", "0001", " mlk - 0001 ", "MLK.0001",
    "mlk_1", "MLKO1", "MLK-OOO1", "mlko001", "MLK 0O01",
])
def test_member_number_typed_any_way(register, typed):
    assert match_member(typed).id == register[1]
    assert find_match(typed).by == MatchedBy.ACCOUNT_NUMBER


@pytest.mark.parametrize("typed", ["0712345678", "0712 345 678", "254712345678",
                                   "+254712345678", "712345678", "0712-345-678"])
def test_member_phone_typed_as_the_account(register, typed):
    found = find_match(typed)
    assert found.member_id == register[1]
    assert found.by == MatchedBy.ACCOUNT_PHONE


def test_phone_in_the_01_range(register):
    assert match_member("0110 123 456").id == register[2]
    assert match_member(None, phone="254110123456").id == register[2]


def test_member_number_inside_free_text(register):
    assert match_member("dues MLK 2 november").id == register[2]
    assert match_member("MLK-0002/MLK2").id == register[2]  # the same member twice


def test_two_member_numbers_match_nobody(register):
    found = find_match("MLK 1 and MLK 2")
    assert found.member_id is None
    assert "more than one" in str(found.problem)


def test_unknown_number_with_our_prefix_goes_to_suspense_not_to_the_payer(register):
    # The payer is member 1, but typed a number nobody has: never guessed onto them.
    found = find_match("MLK-0099", phone="0712345678")
    assert found.member_id is None
    assert "No member has the number" in str(found.problem)


def test_explicit_number_beats_the_payers_phone(register):
    # Member 2 pays for member 1 (a spouse, a tenant).
    found = find_match("MLK-0001", phone="0110123456")
    assert (found.member_id, found.by) == (register[1], MatchedBy.ACCOUNT_NUMBER)


def test_bare_digits_that_disagree_with_the_payer_are_ambiguous(register):
    found = find_match("2", phone="0712345678")
    assert found.member_id is None
    assert "two different members" in str(found.problem)
    # ...but agree with it, or with an unknown payer: fine.
    assert find_match("1", phone="0712345678").member_id == register[1]
    assert find_match("2", phone="0799999999").member_id == register[2]


def test_free_text_and_foreign_prefixes_fall_back_to_the_payer(register):
    for account in ("", None, "dues", "HSE-12", "house 4 plot 12", "999", "0799999999"):
        found = find_match(account, phone="0712345678")
        assert (found.member_id, found.by) == (register[1], MatchedBy.PAYER_PHONE), account
        assert find_match(account).member_id is None


def test_hashed_msisdn(register):
    found = find_match("dues", msisdn_hash=sha("254712345678"))
    assert (found.member_id, found.by) == (register[1], MatchedBy.PAYER_HASH)
    assert match_member(None, msisdn_hash=sha("254712345678").upper()).id == register[1]
    assert match_member(None, msisdn_hash=sha("254110123456")).id == register[2]
    assert match_member(None, msisdn_hash=sha("254700000000")) is None
    # The sandbox sends the plain number in the MSISDN field.
    assert match_member(None, msisdn_hash="254712345678").id == register[1]


@pytest.mark.parametrize("junk", ["zz", "2547******78", "0722XXXXXX", "x" * 64, "1" * 500,
                                  "\u202e12", "'; DROP TABLE member; --"])
def test_masked_and_junk_values_match_nothing(register, junk):
    assert match_member(None, phone=junk, msisdn_hash=junk) is None
    assert match_member(junk) is None


def test_members_who_left_match_by_number_only(register):
    assert match_member("MLK-0003").id == register[3]  # clearing arrears
    assert match_member(None, phone="0722000333") is None  # the line may be recycled
    assert match_member(None, msisdn_hash=sha("254722000333")) is None
    assert match_member("0722000333") is None


def test_suspended_members_match_every_way(register):
    with acting_as("test"):
        change_status(db.session.get(Member, register[1]), MemberStatus.SUSPENDED,
                      today_in_nairobi(), "Arrears", None)
        db.session.flush()
        assert match_member(None, phone="0712345678").id == register[1]
        assert match_member("mlk1").id == register[1]


def test_index_follows_changes_to_the_register(register):
    assert match_member(None, phone="0733000444") is None
    with acting_as("test"):
        member = db.session.get(Member, register[2])
        member.phone = "+254733000444"
        db.session.flush()
        assert match_member(None, phone="0733000444").id == register[2]
        assert match_member(None, phone="0110123456") is None


def test_twenty_thousand_members_are_all_told_apart(app, setup_association):
    """Every one of 20,000 members is found by number and by hashed phone (how fast is
    measured in bench/mpesa_imports.py, not here)."""
    with app.app_context(), acting_as("test"):
        rows = [member_data(setup_association.zone_id, phone=f"+2547{n:08d}",
                            first_name="M", other_names=f"N{n}") for n in range(20_000)]
        made = register_members(rows)
        db.session.commit()
        matching.clear_cache()
        index = matching.current_index()
        assert len(index.by_phone) == 20_000
        for n in range(0, 20_000, 7):
            assert index.match(f"mlk {n + 1}", msisdn_hash=sha(f"2547{n:08d}")).member_id \
                == made[n].id
        for n in range(0, 20_000, 97):
            found = find_match("dues", msisdn_hash=sha(f"2547{n:08d}"))
            assert found.by == MatchedBy.PAYER_HASH and found.member_id == made[n].id
