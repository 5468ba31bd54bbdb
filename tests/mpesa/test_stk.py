"""Paying by STK push: the member's page, the pending page, the command line."""

import re
import subprocess
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.extensions import db
from association.ledger.models import Payment
from association.members.models import Member
from association.mpesa import phones, stk
from association.mpesa.models import MpesaTransaction, StkRequest, StkStatus, TransactionStatus
from association.worker import run_steps
from tests.conftest import count
from tests.mpesa.daraja_helpers import daraja, sandbox, wait_for  # noqa: F401 - fixtures

#: The sandbox's phones (the last digits choose its answer) the member login prompts besides
#: the one on its record: an official allowed them (a member prompts no other number).
SANDBOX_PHONES = ("0712341032", "0712341037", "0712341111", "0712342001", "0712345670")


@pytest.fixture
def payer(app, people, daraja):  # noqa: F811
    """The member login's own member has a Safaricom phone; the app talks to the sandbox."""
    with app.app_context(), acting_as("test"):
        member = db.session.get(Member, people.own_member_id)
        member.phone = "+254712345678"
        member.joined_on = date(2025, 1, 1)
        for phone in SANDBOX_PHONES:
            phones.allow_phone(member, phone, None)
        db.session.commit()
    return people


def _latest_request(app) -> StkRequest:
    with app.app_context():
        return db.session.scalar(sa.select(StkRequest).order_by(StkRequest.id.desc()))


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_member_pays_by_stk_push_and_gets_the_receipt(app, web, payer):
    web.login("member")
    page = web.get("/mpesa/pay").get_data(as_text=True)
    assert "MLK-0001" in page and "0712345678" in page
    response = web.post("/mpesa/pay", {"choice": "other", "amount": "150",
                                       "phone": "0712 345 678"})
    assert response.status_code in (302, 303)
    status_url = response.headers["Location"]
    request = _latest_request(app)
    assert request.status == StkStatus.PENDING and request.amount_cents == 15_000
    assert request.account_reference == "MLK-0001" and request.phone == "+254712345678"
    pending = web.get(status_url)
    assert pending.status_code == 200 and pending.headers["Refresh"] == "5"
    assert 'http-equiv="refresh"' in pending.get_data(as_text=True)

    def landed():
        response = web.get(status_url)
        location = response.headers.get("Location", "")
        response.close()
        return "/receipts/" in location and location

    receipt_url = wait_for(landed)
    receipt_page = web.get(receipt_url, follow_redirects=True).get_data(as_text=True)
    assert "KES 150.00" in receipt_page
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.CREDITED and tx.member_id == payer.own_member_id
        assert db.session.scalar(sa.select(Payment.amount_cents)) == 15_000
    pdf = web.get(receipt_url + ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    pdf.close()


@pytest.mark.parametrize("ending, words", [
    ("1032", "cancelled"), ("1037", "could not be reached"), ("1111", "balance is not enough"),
    ("2001", "PIN was wrong"),
])
@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_failed_prompt_says_why(app, web, payer, ending, words):
    web.login("member")
    web.post("/mpesa/pay", {"choice": "other", "amount": "50", "phone": "071234" + ending})
    request = _latest_request(app)
    wait_for(lambda: _latest_request(app).status == StkStatus.FAILED)
    page = web.get(f"/mpesa/pay/{request.id}")
    assert words in page.get_data(as_text=True) and "Refresh" not in page.headers
    with app.app_context():
        assert count(Payment) == 0


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_the_prompt_remembers_the_payers_language(app, web, payer):
    web.login("member")
    web.post("/language", {"language": "sw", "next": "/"})
    web.post("/mpesa/pay", {"choice": "other", "amount": "50", "phone": "0712341032"})
    assert _latest_request(app).language == "sw"


def _age(app, request_id: int, created: timedelta, queried: timedelta | None = None) -> None:
    """Move the prompt's sending (and its last question to Daraja) back in time."""
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        request.created_at -= created
        if queried is not None:
            request.last_queried_at -= queried
        db.session.commit()


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_the_worker_asks_daraja_about_a_late_prompt_and_the_page_shows_it(
        app, web, payer, daraja, sandbox):  # noqa: F811
    daraja.stop_worker()  # the test runs the worker's steps itself, when it chooses
    sandbox.state.delay = 30  # the callback would come much later
    web.login("member")
    web.post("/mpesa/pay", {"choice": "other", "amount": "50", "phone": "0712341037"})
    request = _latest_request(app)
    with app.app_context():
        run_steps()
    assert _latest_request(app).query_count == 0  # too soon to ask (QUERY_AFTER)
    _age(app, request.id, stk.QUERY_AFTER)
    page = web.get(f"/mpesa/pay/{request.id}")
    assert page.status_code == 200 and page.headers["Refresh"] == "5"
    assert _latest_request(app).query_count == 0  # the page asks nothing
    with app.app_context():
        assert run_steps() == 1
    asked = _latest_request(app)
    assert asked.status == StkStatus.PENDING and asked.query_count == 1  # "being processed"
    with app.app_context():
        run_steps()
    assert _latest_request(app).query_count == 1  # not again within QUERY_EVERY
    _age(app, request.id, stk.QUERY_UNTIL, stk.QUERY_EVERY)
    with app.app_context():
        run_steps()
    assert _latest_request(app).query_count == 1  # too old for the worker: reconcile's now
    _age(app, request.id, -stk.QUERY_UNTIL)
    sandbox.state.prompts[request.checkout_request_id]["answer_at"] = 0  # the phone timed out
    _age(app, request.id, timedelta(0), stk.QUERY_EVERY)
    with app.app_context():
        assert run_steps() == 1
    answered = _latest_request(app)
    assert answered.status == StkStatus.FAILED and answered.result_code == "1037"
    assert answered.query_count == 2
    page = web.get(f"/mpesa/pay/{request.id}")
    assert "could not be reached" in page.get_data(as_text=True)
    assert "Refresh" not in page.headers
    with app.app_context():
        assert count(Payment) == 0


@pytest.mark.parametrize("amount, words", [
    ("0", "more than zero"), ("-5", "more than zero"), ("50.50", "whole shillings"),
    ("abc", "is not an amount"), ("250001", "between KES"), ("", "Enter an amount"),
])
@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_bad_amounts_send_no_prompt(app, web, payer, amount, words):
    web.login("member")
    page = web.post("/mpesa/pay", {"choice": "other", "amount": amount,
                                   "phone": "0712345678"}).get_data(as_text=True)
    assert words in page
    with app.app_context():
        assert count(StkRequest) == 0


@pytest.mark.parametrize("phone, words", [
    ("0733 123 456", "cannot receive an M-Pesa prompt"),  # Airtel
    ("12", "not"), ("", "Enter the phone"), ("+255712345678", "cannot receive"),
])
@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_bad_phones_send_no_prompt(app, web, payer, phone, words):
    web.login("member")
    page = web.post("/mpesa/pay", {"choice": "other", "amount": "50",
                                   "phone": phone}).get_data(as_text=True)
    assert words in page
    with app.app_context():
        assert count(StkRequest) == 0


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_second_prompt_to_the_same_phone_waits(app, web, payer):
    web.login("member")
    web.post("/mpesa/pay", {"choice": "other", "amount": "50", "phone": "0712345678"})
    page = web.post("/mpesa/pay", {"choice": "other", "amount": "50",
                                   "phone": "0712345678"}).get_data(as_text=True)
    assert "already waiting" in page
    with app.app_context():
        assert count(StkRequest) == 1


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_suggested_amounts_come_from_the_dues(app, web, payer):
    web.login("member")
    page = web.get("/mpesa/pay").get_data(as_text=True)
    assert "KES 150.00" in page  # 3 months of residents' dues (KES 50)
    web.post("/mpesa/pay", {"choice": "months-3", "phone": "0712345678"})
    assert _latest_request(app).amount_cents == 15_000


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_the_treasurer_sends_a_prompt_for_a_member(app, web, payer):
    web.login("treasurer")
    page = web.get(f"/mpesa/pay?member={payer.other_member_no}").get_data(as_text=True)
    assert payer.other_member_no in page
    response = web.post("/mpesa/pay", {"member": payer.other_member_no, "choice": "other",
                                       "amount": "50", "phone": "0712345678"})
    assert response.status_code in (302, 303)
    assert _latest_request(app).member_id == payer.other_member_id
    page = web.post("/mpesa/pay", {"member": "MLK-9999", "choice": "other", "amount": "50",
                                   "phone": "0712345679"}).get_data(as_text=True)
    assert "No member has the number" in page


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_member_cannot_pay_for_or_follow_another_member(app, web, payer):
    web.login("treasurer")
    web.post("/mpesa/pay", {"member": payer.other_member_no, "choice": "other",
                            "amount": "50", "phone": "0712345678"})
    other_request = _latest_request(app)
    web.logout()
    web.login("member")
    web.post("/mpesa/pay", {"member": payer.other_member_no, "choice": "other",
                            "amount": "70", "phone": "0712345670"})
    assert _latest_request(app).member_id == payer.own_member_id  # the field is ignored
    assert web.get(f"/mpesa/pay/{other_request.id}").status_code == 404
    assert web.get("/mpesa/pay/999999").status_code == 404


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_daraja_unreachable_is_a_clear_error_and_the_request_is_kept(app, web, payer):
    app.config["MPESA_BASE_URL"] = "http://127.0.0.1:9"
    app.extensions.pop("mpesa_provider", None)
    web.login("member")
    response = web.post("/mpesa/pay", {"choice": "other", "amount": "50",
                                       "phone": "0712345678"}, follow_redirects=True)
    assert "could not be reached" in response.get_data(as_text=True)
    assert _latest_request(app).status == StkStatus.ERROR


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_mpesa_switched_off_says_so(app, web, payer):
    app.config["MPESA_PASSKEY"] = None
    web.login("member")
    assert "not available yet" in web.get("/mpesa/pay").get_data(as_text=True)
    page = web.post("/mpesa/pay", {"choice": "other", "amount": "50",
                                   "phone": "0712345678"}).get_data(as_text=True)
    assert "M-Pesa is not set up" in page
    web.logout()
    web.login("treasurer")
    page = web.get("/mpesa").get_data(as_text=True)
    assert "switched off" in page and "MPESA_PASSKEY" in page
    assert web.get("/members").status_code == 200  # the rest of the app works


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_stk_push_command(app, runner, payer):
    result = runner.invoke(args=["mpesa", "stk-push", "mlk 1", "75", "--wait"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Paid: M-Pesa \w+, receipt MLK-\d{4}-\d{6}\.", result.output)
    result = runner.invoke(args=["mpesa", "stk-push", "MLK-0404", "75"])
    assert result.exit_code != 0 and "No member" in result.output
    result = runner.invoke(args=["mpesa", "stk-push", "MLK-0001", "7.5", "--phone", "0712000001"])
    assert result.exit_code != 0 and "whole shillings" in result.output
    result = runner.invoke(args=["mpesa", "stk-push", "MLK-0001", "50", "--phone",
                                 "0712341032", "--wait"])
    assert result.exit_code != 0 and "cancelled" in result.output


def test_the_sandbox_command_refuses_a_busy_port(app, runner, sandbox):  # noqa: F811
    port = sandbox.server_address[1]
    result = runner.invoke(args=["mpesa", "sandbox", "--port", str(port)])
    assert result.exit_code != 0 and "Cannot listen" in result.output
    assert subprocess  # the real command is exercised by `make run`
