"""``flask mpesa reconcile``: lost callbacks, stored-but-unprocessed bodies, a SIGKILL mid-burst."""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.extensions import db
from association.ledger.models import Payment
from association.members.models import Member
from association.mpesa import inbox, stk
from association.mpesa.models import (
    CallbackInbox,
    CallbackKind,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionStatus,
)
from tests.conftest import count
from tests.mpesa.daraja_helpers import (  # noqa: F401 - fixtures
    TOKEN,
    c2b_confirmation,
    daraja,
    sandbox,
    stk_success,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def member(app, make_member):
    member_id, _ = make_member(first_name="Amina", phone="0712345678",
                               joined_on=date(2025, 1, 10))
    return member_id


def _prompt(app, member, phone) -> int:
    with app.app_context(), acting_as("test"):
        request = stk.create_request(db.session.get(Member, member), 5_000, phone, None)
        db.session.commit()
        stk.send_request(request)
        db.session.commit()
        return request.id


def _age(app, request_id, minutes=3):
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        request.created_at -= timedelta(minutes=minutes)
        db.session.commit()


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_lost_callback_is_found_by_querying(app, runner, daraja, sandbox, member):  # noqa: F811
    daraja.stop_worker()  # reconcile is the backstop here: no worker asks first
    request_id = _prompt(app, member, "0712349999")  # paid, but the callback never comes
    time.sleep(0.5)
    _age(app, request_id)
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert result.exit_code == 0, result.output
    assert f"STK request {request_id}" in result.output and "paid_no_receipt" in result.output
    again = runner.invoke(args=["mpesa", "reconcile"])
    assert again.exit_code == 0 and "0 changed" in again.output
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        assert request.status == StkStatus.PENDING and request.result_code == "0"
        assert count(Payment) == 0  # no receipt code yet: the statement import finds it


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_prompt_still_pending_after_two_minutes_is_closed_by_the_query(
        app, runner, daraja, sandbox, member):  # noqa: F811
    daraja.stop_worker()  # reconcile is the backstop here: no worker asks first
    sandbox.state.delay = 30  # the callback would come much later
    request_id = _prompt(app, member, "0712341037")
    checkout = _checkout(app, request_id)
    sandbox.state.prompts[checkout]["answer_at"] = 0
    _age(app, request_id)
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert "failed" in result.output
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        assert request.status == StkStatus.FAILED and request.result_code == "1037"


def _checkout(app, request_id):
    with app.app_context():
        return db.session.get(StkRequest, request_id).checkout_request_id


def test_stored_but_unprocessed_bodies_are_processed_once(app, runner, member):
    with app.app_context(), acting_as("test"):
        for _ in range(3):  # the same confirmation, stored three times, then a crash
            inbox.store(CallbackKind.C2B_CONFIRMATION,
                            json.dumps(c2b_confirmation()).encode(), "196.201.214.200")
        db.session.commit()
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "credited" in result.output and result.output.count("duplicate") == 2
    assert "0 changed" in runner.invoke(args=["mpesa", "reconcile"]).output
    with app.app_context():
        assert count(Payment) == 1
        assert db.session.scalar(sa.select(sa.func.count(CallbackInbox.id)).where(
            CallbackInbox.processed_at.is_(None))) == 0


def test_a_callback_that_overtook_its_request_is_processed_later(app, runner, member):
    with app.app_context(), acting_as("test"):
        inbox.store(CallbackKind.STK, json.dumps(stk_success("ws_CO_LATE", amount=50)).encode(),
                        "196.201.214.200")
        db.session.commit()
    assert "unknown_request" in runner.invoke(args=["mpesa", "reconcile"]).output
    with app.app_context(), acting_as("test"):
        db.session.add(StkRequest(member_id=member, amount_cents=5_000, phone="+254712345678",
                                  account_reference="MLK-0001", status=StkStatus.PENDING,
                                  checkout_request_id="ws_CO_LATE"))
        db.session.commit()
    result = runner.invoke(args=["mpesa", "reconcile"])
    # Daraja (unreachable in this test) must still confirm it: it waits, unconfirmed.
    assert "unconfirmed" in result.output, result.output
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.receipt_code == "TC54XYZ12A" and tx.status == TransactionStatus.UNCONFIRMED
        assert tx.member_id == member and count(Payment) == 0


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_verification_that_failed_is_retried(app, runner, daraja, sandbox, member):  # noqa: F811
    request_id = _prompt(app, member, "0712345678")
    checkout = _checkout(app, request_id)
    app.config["MPESA_BASE_URL"] = "http://127.0.0.1:9"  # Daraja unreachable for the query
    app.extensions.pop("mpesa_provider", None)
    wait_for(lambda: sandbox.state.posted)

    def unconfirmed():
        with app.app_context():
            tx = db.session.scalar(sa.select(MpesaTransaction))
            return tx is not None and tx.status == TransactionStatus.UNCONFIRMED and tx

    wait_for(unconfirmed)
    with app.app_context():
        assert count(Payment) == 0
    app.config["MPESA_BASE_URL"] = sandbox.url
    app.extensions.pop("mpesa_provider", None)
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert "credited" in result.output, result.output
    with app.app_context():
        assert count(Payment) == 1
        assert db.session.get(StkRequest, request_id).status == StkStatus.PAID
        assert db.session.scalar(sa.select(MpesaTransaction.checkout_request_id)) == checkout


# --- SIGKILL in the middle of a burst ---------------------------------------------------------

SERVER = """
import sys
from werkzeug.serving import make_server
from association import create_app
from config import TestingConfig
app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": sys.argv[1], "UPLOAD_DIR": sys.argv[2]})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.mark.committed(reason="a server in another process is killed: only what it "
                              "committed survives")
def test_every_acknowledged_confirmation_survives_a_sigkill(app, member, database_url,
                                                            upload_dir, runner):
    process = subprocess.Popen(  # noqa: S603 - our own test server
        [sys.executable, "-c", SERVER, database_url, str(upload_dir)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        port = int(process.stdout.readline())
        url = f"http://127.0.0.1:{port}/mpesa/c2b/confirmation/{TOKEN}"
        acknowledged, lock = [], threading.Lock()

        def send(n):
            body = json.dumps(c2b_confirmation(receipt=f"KL{n:08d}", amount="50")).encode()
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
                    if response.status == 200 and json.loads(response.read())["ResultCode"] == 0:
                        with lock:
                            acknowledged.append(f"KL{n:08d}")
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
                pass  # killed mid-answer, not acknowledged: Daraja would send it again

        threads = [threading.Thread(target=send, args=(n,)) for n in range(120)]
        for i, thread in enumerate(threads):
            thread.start()
            if i == 60:
                wait_for(lambda: len(acknowledged) >= 10, timeout=30, every=0.01)
                os.kill(process.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(30)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
    assert acknowledged
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert result.exit_code in (0, 1), result.output
    with app.app_context():
        codes = db.session.scalars(sa.select(Payment.mpesa_code)).all()
        assert len(codes) == len(set(codes))  # none twice
        assert set(acknowledged) <= set(codes)  # every acknowledged one is in the books


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_paid_prompt_we_never_recorded_is_not_lost(app, runner, daraja, sandbox,  # noqa: F811
                                                     make_member):
    """Our push timed out after Daraja took it: the callback names no request of ours."""
    from association.mpesa.provider import get_provider

    member_id, _ = make_member(first_name="Wanjiru", phone="0712349999")
    with app.app_context():
        accepted = get_provider().stk_push(
            phone="254712349999", amount=70, account_reference="MLK-0001", description="Dues",
            callback_url="http://127.0.0.1:1/never")
    checkout = accepted.checkout_request_id
    wait_for(lambda: sandbox.state.prompts[checkout]["done"])
    receipt = sandbox.state.prompts[checkout]["receipt"]
    status, _ = daraja.post(f"/mpesa/stk/callback/{TOKEN}",
                            stk_success(checkout, receipt=receipt, amount=70,
                                        phone=254712349999))
    assert status == 200
    with app.app_context():
        assert count(MpesaTransaction) == 0  # perhaps our own request is still being saved
        received = db.session.scalar(sa.select(CallbackInbox.received_at))
        db.session.execute(sa.update(CallbackInbox).values(  # the trail is frozen to the ORM
            received_at=received - timedelta(minutes=11)))
        db.session.commit()
    result = runner.invoke(args=["mpesa", "reconcile"])
    assert "credited" in result.output, result.output
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.receipt_code == receipt and tx.member_id == member_id
        assert tx.status == TransactionStatus.CREDITED and count(Payment) == 1


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_reconcile_never_credits_an_amount_that_disagrees(app, runner, daraja, sandbox,  # noqa: F811
                                                         member):
    daraja.stop_worker()  # reconcile is the backstop here: no worker asks first
    request_id = _prompt(app, member, "0712349999")  # paid KES 50, no callback of its own
    checkout = _checkout(app, request_id)
    wait_for(lambda: sandbox.state.prompts[checkout]["done"])
    receipt = sandbox.state.prompts[checkout]["receipt"]
    daraja.post(f"/mpesa/stk/callback/{TOKEN}", stk_success(checkout, receipt=receipt,
                                                             amount="5000.00"))
    _age(app, request_id)
    runner.invoke(args=["mpesa", "reconcile"])
    runner.invoke(args=["mpesa", "reconcile"])
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.UNCONFIRMED and "differs" in tx.note
        assert count(Payment) == 0
