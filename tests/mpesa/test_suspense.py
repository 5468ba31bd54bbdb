"""The suspense queue: assigning M-Pesa money to a member, or marking it for refund."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.core.time import today_in_nairobi
from association.extensions import db
from association.ledger.models import Payment, PaymentMethod, Receipt
from association.ledger.payments import record_payment
from association.members.models import Member
from association.mpesa import suspense
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus
from tests.conftest import count


def make_tx(code="TK11ABC123", amount=5_000, status=TransactionStatus.SUSPENSE, **kw):
    """A transaction as a callback would leave it (committed); returns its id."""
    with acting_as("test"):
        tx = MpesaTransaction(
            receipt_code=code, amount_cents=amount, transacted_at=kw.pop(
                "transacted_at", datetime(2026, 11, 2, 7, 30)),
            source=kw.pop("source", TransactionSource.C2B), status=status,
            account_reference=kw.pop("account_reference", "HSE 12"),
            payer_name=kw.pop("payer_name", "JOHN DOE"), **kw)
        db.session.add(tx)
        db.session.flush()
        tx_id = tx.id
        db.session.commit()  # and read nothing after it: no connection is left checked out
        return tx_id


@pytest.fixture
def desk(app, people):
    """People as in the demo, and an app context for services."""
    with app.app_context():
        yield people
        db.session.rollback()


def _tx(tx_id) -> MpesaTransaction:
    db.session.expire_all()
    return db.session.get(MpesaTransaction, tx_id)


def in_app(app, function, *args, **kwargs):
    """Call ``function`` in its own app context: page tests keep none pushed."""
    with app.app_context():
        return function(*args, **kwargs)


def status_of(tx_id):
    return _tx(tx_id).status


def receipt_number(tx_id):
    tx = _tx(tx_id)
    return db.session.scalar(sa.select(Receipt.number).where(Receipt.payment_id == tx.payment_id))


# --- services ---------------------------------------------------------------------------


def test_assign_credits_the_member_with_a_receipt_and_is_audited(desk):
    tx_id = make_tx()
    member = db.session.get(Member, desk.own_member_id)
    with acting_as("test"):
        tx = suspense.assign(tx_id, member, None, "Called him: house 12 is Baraka")
        db.session.commit()
    tx = _tx(tx_id)
    assert tx.status == TransactionStatus.CREDITED
    assert tx.member_id == member.id and tx.note == "Called him: house 12 is Baraka"
    payment = db.session.get(Payment, tx.payment_id)
    assert (payment.amount_cents, payment.method, payment.mpesa_code) == (
        5_000, PaymentMethod.MPESA, "TK11ABC123")
    assert payment.receipt is not None
    events = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "mpesa.suspense.assign" in events


def test_assign_twice_or_after_refund_changes_nothing(desk):
    tx_id = make_tx()
    member = db.session.get(Member, desk.own_member_id)
    with acting_as("test"):
        suspense.assign(tx_id, member, None)
        db.session.commit()
        with pytest.raises(suspense.SuspenseError, match="no longer in suspense"):
            suspense.assign(tx_id, db.session.get(Member, desk.other_member_id), None)
        db.session.rollback()
        with pytest.raises(suspense.SuspenseError):
            suspense.mark_for_refund(tx_id, "Wrong number", None)
        db.session.rollback()
    assert count(Payment) == 1
    assert _tx(tx_id).member_id == desk.own_member_id


@pytest.mark.parametrize("status", [TransactionStatus.UNCONFIRMED, TransactionStatus.REJECTED,
                                    TransactionStatus.REFUND, TransactionStatus.CREDITED])
def test_only_suspense_can_be_decided_here(desk, status):
    tx_id = make_tx(status=status)
    with acting_as("test"), pytest.raises(suspense.SuspenseError):
        suspense.assign(tx_id, db.session.get(Member, desk.own_member_id), None)
    db.session.rollback()
    assert count(Payment) == 0


def test_unknown_transaction(desk):
    with acting_as("test"), pytest.raises(suspense.SuspenseError, match="does not exist"):
        suspense.mark_for_refund(9999, "Not ours", None)


@pytest.mark.parametrize("reason", ["", "  ", "ab", None, "x" * 301])
def test_refund_needs_a_sensible_reason(desk, reason):
    tx_id = make_tx()
    with acting_as("test"), pytest.raises(suspense.SuspenseError):
        suspense.mark_for_refund(tx_id, reason, None)
    db.session.rollback()
    assert _tx(tx_id).status == TransactionStatus.SUSPENSE


def test_refund_keeps_the_reason_and_who(desk, app):
    tx_id = make_tx()
    with acting_as("test"):
        suspense.mark_for_refund(tx_id, "  Sent to us by mistake,   asked for it back ", 1)
        db.session.commit()
    tx = _tx(tx_id)
    assert (tx.status, tx.note, tx.decided_by_id) == (
        TransactionStatus.REFUND, "Sent to us by mistake, asked for it back", 1)
    assert count(Payment) == 0


def test_a_note_that_is_too_long_changes_nothing(desk):
    tx_id = make_tx()
    with acting_as("test"), pytest.raises(suspense.SuspenseError):
        suspense.assign(tx_id, db.session.get(Member, desk.own_member_id), None, "n" * 301)
    db.session.rollback()
    assert _tx(tx_id).status == TransactionStatus.SUSPENSE


def test_find_member_tolerates_typing(desk):
    own = db.session.get(Member, desk.own_member_id)
    for typed in (own.member_no, own.member_no.lower().replace("-", " "), str(own.seq),
                  own.phone, "0" + own.phone[4:]):
        assert suspense.find_member(typed).id == own.id
    for typed in ("", "   ", "MLK-9999", "0799999999", "nobody", "x" * 500):
        with pytest.raises(suspense.SuspenseError):
            suspense.find_member(typed)


def test_suggestions_explain_the_queue(desk):
    own = db.session.get(Member, desk.own_member_id)
    first = make_tx("TK11ABC001", phone=own.phone)  # the member registered after paying
    second = make_tx("TK11ABC002", account_reference="MLK-0999")
    hints = suspense.suggestions(db.session.scalars(suspense.queue_query()).all())
    assert hints[first].member_id == own.id
    assert hints[second].member_id is None and "MLK-0999" in str(hints[second].problem)


# --- pages -------------------------------------------------------------------------------


def test_queue_page_for_the_treasurer(app, web, people):
    tx_id = in_app(app, make_tx, payer_name="WANJIRU <script>")
    web.login("treasurer")
    html = web.get("/mpesa/suspense").get_data(as_text=True)
    assert "TK11ABC123" in html and "KES 50.00" in html
    assert "WANJIRU &lt;script&gt;" in html
    assert f'action="/mpesa/suspense/{tx_id}/assign"' in html
    assert f'action="/mpesa/suspense/{tx_id}/refund"' in html


def test_the_page_explains_why_a_payment_waits(app, web, people):
    in_app(app, make_tx, "TK11ABC001", account_reference="MLK-0999")
    in_app(app, make_tx, "TK11ABC002", account_reference="dues",
           phone=in_app(app, lambda: db.session.get(Member, people.own_member_id).phone))
    web.login("treasurer")
    html = web.get("/mpesa/suspense").get_data(as_text=True)
    assert "No member has the number MLK-0999 typed as the account." in html
    assert "Suggested member" in html and 'value="MLK-0001"' in html
    assert "2 Nov 2026, 10:30" in html  # Nairobi time, the Kenyan way


def test_the_auditor_reads_the_queue_without_forms(app, web, people):
    in_app(app, make_tx)
    web.login("auditor")
    html = web.get("/mpesa/suspense").get_data(as_text=True)
    assert "TK11ABC123" in html and "/assign" not in html


@pytest.mark.parametrize("role", ["secretary", "coordinator", "member"])
def test_others_may_not_see_the_queue(app, web, people, role):
    web.login(role)
    assert web.get("/mpesa/suspense").status_code == 403


def test_queue_page_in_swahili_and_filters(app, web, people):
    in_app(app, make_tx)
    web.login("treasurer")
    response = web.get("/mpesa/suspense?queue=refund&q=%00")
    assert response.status_code == 400  # NUL bytes are refused app-wide
    response = web.get("/mpesa/suspense?queue=nonsense&q=" + "z" * 500)
    assert response.status_code == 200
    response = web.get("/mpesa/suspense?q=john&page=999")
    assert response.status_code == 200


def test_assign_through_the_page(app, web, people):
    tx_id = in_app(app, make_tx)
    web.login("treasurer")
    response = web.post(f"/mpesa/suspense/{tx_id}/assign", {"member": "mlk 1", "note": ""},
                        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert in_app(app, status_of, tx_id) == TransactionStatus.CREDITED
    assert in_app(app, receipt_number, tx_id) in html
    # The official's decisions are listed with the receipt and the member.
    html = web.get("/mpesa/suspense?queue=credited").get_data(as_text=True)
    number = in_app(app, receipt_number, tx_id)
    assert f'href="/receipts/{number}"' in html
    assert f'href="/members/{people.own_member_id}"' in html
    # A second try (another tab, a double tap) changes nothing.
    response = web.post(f"/mpesa/suspense/{tx_id}/assign", {"member": "mlk 2"},
                        follow_redirects=True)
    assert "no longer in suspense" in response.get_data(as_text=True)
    assert in_app(app, count, Payment) == 1


@pytest.mark.parametrize("data, message", [
    ({"member": ""}, "Enter the member number"),
    ({"member": "MLK-0999"}, "No member has the number or phone"),
    ({"member": "0700000001"}, "No member has the number or phone"),
    ({"member": "x" * 61}, "longer than"),
    ({"member": "mlk 1", "note": "n" * 301}, "longer than"),
])
def test_bad_assignments_change_nothing(app, web, people, data, message):
    tx_id = in_app(app, make_tx)
    web.login("treasurer")
    response = web.post(f"/mpesa/suspense/{tx_id}/assign", data, follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert in_app(app, status_of, tx_id) == TransactionStatus.SUSPENSE
    assert in_app(app, count, Payment) == 0


def test_refund_through_the_page(app, web, people):
    tx_id = in_app(app, make_tx)
    web.login("chair")
    response = web.post(f"/mpesa/suspense/{tx_id}/refund", {"reason": ""},
                        follow_redirects=True)
    assert "Give the reason for the refund" in response.get_data(as_text=True)
    assert in_app(app, status_of, tx_id) == TransactionStatus.SUSPENSE
    response = web.post(f"/mpesa/suspense/{tx_id}/refund", {"reason": "Not a member; wrong "
                                                                     "paybill"},
                        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "marked for refund" in html and "wrong paybill" in html
    assert in_app(app, status_of, tx_id) == TransactionStatus.REFUND


def test_wrong_ids_roles_and_tokens(app, web, people, client):
    tx_id = in_app(app, make_tx)
    web.login("treasurer")
    assert web.post("/mpesa/suspense/99999/assign", {"member": "mlk 1"}).status_code == 404
    assert web.post("/mpesa/suspense/99999/refund", {"reason": "Wrong"}).status_code == 404
    assert web.get(f"/mpesa/suspense/{tx_id}/assign").status_code == 405
    # No CSRF token: refused before anything happens.
    assert client.post(f"/mpesa/suspense/{tx_id}/assign",
                       data={"member": "mlk 1"}).status_code == 400
    web.logout()
    web.login("auditor")
    assert web.post(f"/mpesa/suspense/{tx_id}/assign", {"member": "mlk 1"}).status_code == 403
    assert web.post(f"/mpesa/suspense/{tx_id}/refund", {"reason": "No"}).status_code == 403
    assert in_app(app, status_of, tx_id) == TransactionStatus.SUSPENSE


def test_assigning_a_code_already_typed_by_hand_links_it(app, web, people):
    """The treasurer typed the payment for member 2 earlier: no second payment."""
    with app.app_context(), acting_as("test"):
        other = db.session.get(Member, people.other_member_id)
        record_payment(other, 5_000, PaymentMethod.MPESA, today_in_nairobi(), None,
                       reference="TK11ABC123")
        db.session.commit()
    tx_id = in_app(app, make_tx)
    web.login("treasurer")
    response = web.post(f"/mpesa/suspense/{tx_id}/assign", {"member": "mlk 1"},
                        follow_redirects=True)
    assert "already in the books as a payment from" in response.get_data(as_text=True)
    assert in_app(app, count, Payment) == 1
    assert in_app(app, lambda i: _tx(i).member_id, tx_id) == people.other_member_id


# --- two officials at once ---------------------------------------------------------------

WORKERS = 4


def _decide(database_url: str, upload_dir: str, tx_id: int, member_id: int, start, results,
            worker: int):
    """Run in a separate process: assign (even workers) or refund (odd ones) one transaction."""
    from association import create_app
    from config import TestingConfig

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url,
                                     "UPLOAD_DIR": upload_dir})
    start.wait()
    with app.app_context(), acting_as(f"process-{worker}"):
        try:
            if worker % 2 == 0:
                suspense.assign(tx_id, db.session.get(Member, member_id), None)
            else:
                suspense.mark_for_refund(tx_id, f"Refund by {worker}", None)
            db.session.commit()
            results.put((worker, "ok"))
        except suspense.SuspenseError:
            db.session.rollback()
            results.put((worker, "refused"))
        finally:
            db.engine.dispose()


@pytest.mark.committed(reason="other processes decide at once: they see only what is "
                              "committed")
def test_two_officials_deciding_at_once_decide_once(app, people, database_url, upload_dir):
    import multiprocessing

    with app.app_context():
        tx_id = make_tx()
        db.session.remove()
        db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_decide, args=(
        database_url, str(upload_dir), tx_id, people.own_member_id, start, results, n))
        for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    outcomes = sorted(results.get(timeout=5)[1] for _ in range(WORKERS))
    assert outcomes == ["ok"] + ["refused"] * (WORKERS - 1)
    with app.app_context():
        tx = _tx(tx_id)
        payments = count(Payment)
        assert (tx.status, payments) in ((TransactionStatus.CREDITED, 1),
                                         (TransactionStatus.REFUND, 0))
