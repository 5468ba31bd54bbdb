"""The treasurer's M-Pesa page: what waits, the prompts, the settings."""

import json

import pytest
import sqlalchemy as sa

from association.audit.services import acting_as
from association.extensions import db
from association.mpesa import inbox
from association.mpesa.models import (
    CallbackKind,
    MpesaSettings,
    UnknownAccountAction,
)
from tests.mpesa.daraja_helpers import c2b_confirmation, daraja, sandbox  # noqa: F401


def test_who_sees_the_desk(web, people):
    for role, status in (("treasurer", 200), ("chair", 200), ("auditor", 200),
                         ("secretary", 403), ("coordinator", 403), ("member", 403)):
        web.login(role)
        assert web.get("/mpesa").status_code == status, role
        web.logout()


def test_the_desk_shows_what_waits(app, web, people):
    app.config["MPESA_BASE_URL"] = "http://127.0.0.1:9"
    web.client.post("/mpesa/c2b/confirmation/test-callback-token-0123456789abcdef",
                    data=json.dumps(c2b_confirmation(receipt="TC57LAND01", account="mlk 1")),
                    content_type="application/json").close()
    # Stored after that callback was processed (a callback processes whatever waits).
    with app.app_context(), acting_as("test"):
        inbox.store(CallbackKind.C2B_CONFIRMATION,
                        json.dumps(c2b_confirmation(receipt="TC57WAIT01", amount="50",
                                                    shortcode="999999")).encode(), None)
        db.session.commit()
    web.login("treasurer")
    page = web.get("/mpesa").get_data(as_text=True)
    assert "1 callback is stored but not yet processed" in page
    assert "TC57LAND01" in page and "Credited" in page
    assert "Callbacks received" in page
    assert "test-callback-token" not in page  # the secret is never shown


def test_the_treasurer_chooses_what_happens_to_unknown_accounts(app, web, people):
    web.login("treasurer")
    web.get("/mpesa")
    response = web.post("/mpesa/settings", {"unknown_account": "reject"}, follow_redirects=True)
    assert "M-Pesa settings saved." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(MpesaSettings, 1).unknown_account == UnknownAccountAction.REJECT
    response = web.post("/mpesa/settings", {"unknown_account": "keep-it"},
                        follow_redirects=True)
    assert "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(MpesaSettings, 1).unknown_account == UnknownAccountAction.REJECT
    web.logout()
    web.login("auditor")
    assert web.post("/mpesa/settings", {"unknown_account": "suspense"}).status_code == 403


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_registering_the_paybill_addresses(app, web, people, daraja, sandbox):  # noqa: F811
    web.login("treasurer")
    response = web.post("/mpesa/register-urls", follow_redirects=True)
    assert "Daraja accepted the paybill addresses" in response.get_data(as_text=True)
    urls = sandbox.state.c2b_urls["174379"]
    assert urls["confirmation"] == daraja.url + "/hooks/c2b/confirmation/" + \
        app.config["MPESA_CALLBACK_TOKEN"]
    assert "mpesa" not in urls["validation"].lower()  # Daraja refuses such URLs
    with app.app_context():
        assert db.session.scalar(sa.select(MpesaSettings.c2b_registered_at)) is not None


def test_registering_while_daraja_is_down_says_so(app, web, people):
    web.login("treasurer")
    response = web.post("/mpesa/register-urls", follow_redirects=True)
    assert "could not be reached" in response.get_data(as_text=True)


def _unconfirmed(app, member_id=None, amount=5_000, code="TC57HAND01"):
    from association.core.time import utcnow
    from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus

    with app.app_context(), acting_as("test"):
        tx = MpesaTransaction(receipt_code=code, amount_cents=amount, transacted_at=utcnow(),
                              source=TransactionSource.C2B, status=TransactionStatus.UNCONFIRMED,
                              member_id=member_id, shortcode="174379",
                              note="Daraja could not confirm this receipt (2001: bad).")
        db.session.add(tx)
        db.session.commit()
        return tx.id


def test_the_treasurer_confirms_by_hand_what_daraja_could_not(app, web, people):
    from association.ledger.models import Payment
    from association.mpesa.models import MpesaTransaction, TransactionStatus

    tx_id = _unconfirmed(app, people.own_member_id)
    web.login("treasurer")
    page = web.get("/mpesa").get_data(as_text=True)
    assert "TC57HAND01" in page and "credit it" in page
    response = web.post(f"/mpesa/transactions/{tx_id}/confirm", follow_redirects=True)
    assert "M-Pesa TC57HAND01 is confirmed." in response.get_data(as_text=True)
    again = web.post(f"/mpesa/transactions/{tx_id}/confirm", follow_redirects=True)
    assert "no longer waiting" in again.get_data(as_text=True)
    with app.app_context():
        tx = db.session.get(MpesaTransaction, tx_id)
        assert tx.status == TransactionStatus.CREDITED and tx.decided_by_id is not None
        assert db.session.scalar(sa.select(sa.func.count(Payment.id))) == 1
    assert web.post("/mpesa/transactions/999999/confirm").status_code == 404


def test_the_treasurer_rejects_money_that_never_came(app, web, people):
    from association.mpesa.models import MpesaTransaction, TransactionStatus

    tx_id = _unconfirmed(app, people.own_member_id)
    web.login("treasurer")
    web.get("/mpesa")
    response = web.post(f"/mpesa/transactions/{tx_id}/reject", {"reason": "no"},
                        follow_redirects=True)
    assert "5 to 300 characters" in response.get_data(as_text=True)
    response = web.post(f"/mpesa/transactions/{tx_id}/reject",
                        {"reason": "Not in the March statement"}, follow_redirects=True)
    assert "is rejected" in response.get_data(as_text=True)
    with app.app_context():
        tx = db.session.get(MpesaTransaction, tx_id)
        assert tx.status == TransactionStatus.REJECTED and tx.note == "Not in the March statement"
    web.logout()
    web.login("auditor")
    assert web.post(f"/mpesa/transactions/{tx_id}/reject",
                    {"reason": "whatever it is"}).status_code == 403


def test_confirming_an_unmatched_payment_puts_it_in_suspense(app, web, people):
    from association.mpesa.models import MpesaTransaction, TransactionStatus

    tx_id = _unconfirmed(app, None, code="TC57HAND02")
    web.login("treasurer")
    web.post(f"/mpesa/transactions/{tx_id}/confirm")
    with app.app_context():
        assert db.session.get(MpesaTransaction, tx_id).status == TransactionStatus.SUSPENSE
