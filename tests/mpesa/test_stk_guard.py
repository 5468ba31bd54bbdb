"""Issue 20, item 4: payment prompts cannot be used to pester strangers or collect from them.

A member prompts only the phones on their record or allowed by an official; prompts are
limited per member, per phone and per official, counted from the stored prompts; a refused
prompt writes nothing and reaches no Daraja (the local sandbox, over real HTTP).
"""

import json
from datetime import UTC, date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.auth.models import User
from association.core.time import NAIROBI, utcnow
from association.extensions import db
from association.members.models import Member
from association.mpesa.models import AllowedPhone, StkRequest, StkStatus
from tests.conftest import count
from tests.mpesa.daraja_helpers import daraja, sandbox  # noqa: F401 - fixtures

LIVE = pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                                    "sandbox's callbacks reach it there) while the test goes on")
OWN = "+254712345678"
STRANGER = "0712340099"


@pytest.fixture
def payer(app, people, daraja):  # noqa: F811
    """The member login's own member has a Safaricom phone; the app talks to the sandbox."""
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, people.own_member_id)
        member.phone = OWN
        member.joined_on = date(2025, 1, 1)
        db.session.commit()
    return people


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def _sent(app, member_id: int, phone: str, by: int | None, ago: timedelta,
          status: StkStatus = StkStatus.FAILED) -> None:
    """A prompt sent ``ago`` (stored as the app stores them): what the limits count."""
    with app.app_context(), acting_as("test"):
        db.session.add(StkRequest(member_id=member_id, amount_cents=5_000, phone=phone,
                                  account_reference="MLK-0001", status=status,
                                  requested_by_id=by, created_at=utcnow() - ago))
        db.session.commit()


def _pay(web, phone: str, **extra) -> str:
    data = {"choice": "other", "amount": "50", "phone": phone, **extra}
    return web.post("/mpesa/pay", data, follow_redirects=True).get_data(as_text=True)


def _clock(moment) -> str:
    """The hour and minute a page shows for a naive UTC moment, in Nairobi (e.g. 14:35)."""
    return f"{moment.replace(tzinfo=UTC).astimezone(NAIROBI):%H:%M}"


# --- Whose phones a member may prompt -------------------------------------------------------


@LIVE
def test_a_member_cannot_prompt_a_number_not_on_their_record(app, web, payer, sandbox):  # noqa: F811
    web.login("member")
    page = _pay(web, STRANGER)
    assert "0712340099 is not on your member record" in page
    assert "allowed on your record" in page
    with app.app_context():
        assert count(StkRequest) == 0
    assert sandbox.state.prompts == {}  # nothing reached Daraja
    web.post("/language", {"language": "sw", "next": "/"})
    page = _pay(web, "0712 340 099")
    assert "haipo kwenye rekodi yako ya mwanachama" in page
    with app.app_context():
        assert count(StkRequest) == 0
    assert sandbox.state.prompts == {}
    # Their own phone, in any spelling, still works.
    _pay(web, "+254 712 345 678")
    with app.app_context():
        assert db.session.scalar(sa.select(StkRequest.phone)) == OWN


@LIVE
def test_an_official_allows_a_number_on_the_members_page_and_revokes_it(
        app, web, payer, sandbox):  # noqa: F811
    member_id = payer.own_member_id
    web.login("secretary")
    page = web.get(f"/members/{member_id}").get_data(as_text=True)
    assert "Phones for M-Pesa prompts" in page and "No other number allowed." in page
    page = web.post(f"/members/{member_id}/mpesa-phones", {"phone": "0712 340 099"},
                    follow_redirects=True).get_data(as_text=True)
    assert "may now send payment prompts to +254712340099" in page
    secretary = _user_id(app, "secretary")
    with app.app_context():
        allowed = db.session.scalar(sa.select(AllowedPhone))
        assert (allowed.member_id, allowed.phone, allowed.allowed_by_id) == (
            member_id, "+254712340099", secretary)
        assert allowed.allowed_at is not None and allowed.revoked_at is None
        event = db.session.scalar(sa.select(AuditEvent).where(
            AuditEvent.object_type == "mpesa_allowed_phone", AuditEvent.action == "create"))
        assert event.actor_id == secretary and "+254712340099" in event.after
        allowed_id = allowed.id
    web.logout()

    web.login("member")
    page = web.get("/mpesa/pay").get_data(as_text=True)
    assert "You can send prompts to: 0712 340099, 0712 345678." in page
    _pay(web, STRANGER)
    with app.app_context():
        assert db.session.scalar(sa.select(StkRequest.phone)) == "+254712340099"
    web.logout()

    web.login("treasurer")
    page = web.post(f"/members/{member_id}/mpesa-phones/{allowed_id}/revoke",
                    follow_redirects=True).get_data(as_text=True)
    assert "may no longer send payment prompts to +254712340099" in page
    treasurer = _user_id(app, "treasurer")
    with app.app_context():
        allowed = db.session.get(AllowedPhone, allowed_id)
        assert allowed.revoked_at is not None and allowed.revoked_by_id == treasurer
        event = db.session.scalar(sa.select(AuditEvent).where(
            AuditEvent.object_type == "mpesa_allowed_phone", AuditEvent.action == "update"))
        assert event.actor_id == treasurer and "revoked_at" in json.loads(event.after)
    web.logout()

    web.login("member")
    with app.app_context():
        db.session.execute(sa.update(StkRequest).values(status=StkStatus.FAILED))
        db.session.commit()
    prompts = len(sandbox.state.prompts)
    page = _pay(web, STRANGER)
    assert "is not on your member record" in page
    with app.app_context():
        assert count(StkRequest) == 1
    assert len(sandbox.state.prompts) == prompts


@pytest.mark.parametrize("phone, words", [
    ("", "Enter the phone to allow."),
    ("0733 123 456", "cannot receive an M-Pesa prompt"),
    ("12", "is not"),
    ("0712 345 678", "can already get"),  # the member's own
])
def test_allowing_a_bad_number_changes_nothing(app, web, people, phone, words):
    with app.app_context(), acting_as("test"):
        db.session.get(Member, people.own_member_id).phone = OWN
        db.session.commit()
    web.login("treasurer")
    page = web.post(f"/members/{people.own_member_id}/mpesa-phones", {"phone": phone},
                    follow_redirects=True).get_data(as_text=True)
    assert words in page
    with app.app_context():
        assert count(AllowedPhone) == 0


def test_a_number_is_allowed_once_and_revoked_once(app, web, people):
    web.login("treasurer")
    url = f"/members/{people.own_member_id}/mpesa-phones"
    web.post(url, {"phone": "0712340099"})
    page = web.post(url, {"phone": "+254712340099"}, follow_redirects=True)
    assert "can already get" in page.get_data(as_text=True)
    with app.app_context():
        allowed_id = db.session.scalar(sa.select(AllowedPhone.id))
        assert count(AllowedPhone) == 1
    web.post(f"{url}/{allowed_id}/revoke")
    page = web.post(f"{url}/{allowed_id}/revoke", follow_redirects=True)
    assert "is not allowed for" in page.get_data(as_text=True)
    # Another member's number cannot be revoked through this member's address.
    other = f"/members/{people.other_member_id}/mpesa-phones"
    web.post(other, {"phone": "0712340098"})
    with app.app_context():
        other_id = db.session.scalar(sa.select(AllowedPhone.id).where(
            AllowedPhone.member_id == people.other_member_id))
    page = web.post(f"{url}/{other_id}/revoke", follow_redirects=True)
    assert "is not allowed for" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(AllowedPhone, other_id).revoked_at is None
    assert web.post("/members/999999/mpesa-phones", {"phone": "0712340097"}).status_code == 404


@pytest.mark.parametrize("username", ["member", "auditor", "coordinator"])
def test_only_the_officials_who_keep_mpesa_or_members_allow_numbers(app, web, people, username):
    web.login(username)
    response = web.post(f"/members/{people.own_member_id}/mpesa-phones",
                        {"phone": "0712340099"})
    assert response.status_code == 403
    page = web.get(f"/members/{people.own_member_id}")
    assert "Phones for M-Pesa prompts" not in page.get_data(as_text=True)
    with app.app_context():
        assert count(AllowedPhone) == 0


@LIVE
def test_the_desk_prompts_any_number_and_the_prompt_names_who_sent_it(
        app, web, payer, sandbox):  # noqa: F811
    web.login("treasurer")
    page = web.post("/mpesa/pay", {"member": payer.own_member_no, "choice": "other",
                                   "amount": "50", "phone": STRANGER})
    assert page.status_code in (302, 303)
    treasurer = _user_id(app, "treasurer")
    with app.app_context():
        prompt = db.session.scalar(sa.select(StkRequest))
        assert prompt.phone == "+254712340099" and prompt.requested_by_id == treasurer
        event = db.session.scalar(sa.select(AuditEvent).where(
            AuditEvent.object_type == "mpesa_stk_request", AuditEvent.action == "create"))
        assert event.actor_id == treasurer
        assert json.loads(event.after)["requested_by_id"] == treasurer
    assert len(sandbox.state.prompts) == 1


# --- Rate limits ---------------------------------------------------------------------------


@LIVE
def test_a_member_sends_at_most_five_prompts_an_hour(app, web, payer, sandbox):  # noqa: F811
    member = payer.own_member_id
    by = _user_id(app, "member")
    for minutes in (50, 40, 30, 20, 10):  # five prompts to five phones: under each phone's 3
        _sent(app, member, f"+2547123400{minutes}", by, timedelta(minutes=minutes))
    web.login("member")
    page = _pay(web, "0712345678")
    assert "You have sent the most payment prompts allowed in an hour (5)" in page
    # The oldest of the five leaves the hour ten minutes from now: then they may try again.
    with app.app_context():
        oldest = db.session.scalar(sa.select(sa.func.min(StkRequest.created_at)))
    assert f"Try again after {_clock(oldest + timedelta(hours=1))}" in page
    with app.app_context():
        assert count(StkRequest) == 5
    assert sandbox.state.prompts == {}
    web.post("/language", {"language": "sw", "next": "/"})
    assert "Jaribu tena baada ya" in _pay(web, "0712345678")
    with app.app_context():  # an hour on: the oldest no longer counts
        db.session.execute(sa.update(StkRequest).where(StkRequest.created_at == oldest)
                           .values(created_at=oldest - timedelta(minutes=11)))
        db.session.commit()
    _pay(web, "0712345678")
    with app.app_context():
        assert count(StkRequest) == 6
    assert len(sandbox.state.prompts) == 1


@LIVE
def test_prompts_daraja_never_took_do_not_count(app, web, payer, sandbox):  # noqa: F811
    by = _user_id(app, "member")
    for minutes in (5, 4, 3, 2, 1):
        _sent(app, payer.own_member_id, OWN, by, timedelta(minutes=minutes), StkStatus.ERROR)
    web.login("member")
    _pay(web, "0712345678")
    assert len(sandbox.state.prompts) == 1


@LIVE
def test_a_phone_gets_at_most_three_prompts_an_hour_whoever_sends_them(
        app, web, payer, sandbox):  # noqa: F811
    treasurer = _user_id(app, "treasurer")
    for minutes in (45, 30, 15):  # sent by the desk, for another member
        _sent(app, payer.other_member_id, OWN, treasurer, timedelta(minutes=minutes))
    web.login("member")
    page = _pay(web, "0712 345 678")
    assert "+254712345678 has had the most payment prompts one phone may get in an hour (3)" in page
    with app.app_context():
        oldest = db.session.scalar(sa.select(sa.func.min(StkRequest.created_at)))
    assert f"Try again after {_clock(oldest + timedelta(hours=1))}" in page
    web.logout()
    web.login("treasurer")  # the desk too
    page = web.post("/mpesa/pay", {"member": payer.own_member_no, "choice": "other",
                                   "amount": "50", "phone": "0712345678"},
                    follow_redirects=True).get_data(as_text=True)
    assert "has had the most payment prompts one phone may get in an hour (3)" in page
    with app.app_context():
        assert count(StkRequest) == 3
    assert sandbox.state.prompts == {}
    # Another phone is not held back by this one.
    web.post("/mpesa/pay", {"member": payer.own_member_no, "choice": "other",
                            "amount": "50", "phone": "0712340099"})
    assert len(sandbox.state.prompts) == 1


@LIVE
def test_an_official_sends_at_most_thirty_prompts_an_hour(app, web, payer, sandbox):  # noqa: F811
    treasurer = _user_id(app, "treasurer")
    with app.app_context(), acting_as("test"):
        now = utcnow()
        for n in range(30):  # thirty phones, one prompt each
            db.session.add(StkRequest(
                member_id=payer.other_member_id, amount_cents=5_000,
                phone=f"+2547123401{n:02d}", account_reference="MLK-0002",
                status=StkStatus.FAILED, requested_by_id=treasurer,
                created_at=now - timedelta(minutes=59 - n)))
        db.session.commit()
    web.login("treasurer")
    page = web.post("/mpesa/pay", {"member": payer.own_member_no, "choice": "other",
                                   "amount": "50", "phone": "0712340099"},
                    follow_redirects=True).get_data(as_text=True)
    assert "You have sent the most payment prompts an official may send in an hour (30)" in page
    with app.app_context():
        assert count(StkRequest) == 30
    assert sandbox.state.prompts == {}
    # The member's own prompt is not held back by the treasurer's.
    web.logout()
    web.login("member")
    _pay(web, "0712345678")
    assert len(sandbox.state.prompts) == 1


@LIVE
def test_the_limits_are_settings(app, web, payer, sandbox):  # noqa: F811
    app.config["STK_PROMPTS_PER_PHONE_PER_HOUR"] = 1
    web.login("member")
    _pay(web, "0712345678")
    with app.app_context():
        db.session.execute(sa.update(StkRequest).values(status=StkStatus.FAILED))
        db.session.commit()
    page = _pay(web, "0712345678")
    assert "one phone may get in an hour (1)" in page
    assert len(sandbox.state.prompts) == 1
