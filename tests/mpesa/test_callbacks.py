"""Daraja's callbacks: token, raw inbox first, acknowledgement, idempotent verified credit."""

import hashlib
import json
import threading
from datetime import date

import pytest
import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import acting_as
from association.extensions import db
from association.ledger.balances import member_balance
from association.ledger.models import Payment, PaymentMethod, Receipt
from association.ledger.payments import record_payment
from association.members.models import Member
from association.mpesa import inbox, processing
from association.mpesa.models import (
    CallbackInbox,
    CallbackKind,
    MpesaSettings,
    MpesaTransaction,
    StkRequest,
    StkStatus,
    TransactionStatus,
    UnknownAccountAction,
)
from association.worker import Worker, run_steps
from tests.conftest import count
from tests.mpesa.daraja_helpers import (  # noqa: F401 - fixtures
    TOKEN,
    c2b_confirmation,
    daraja,
    msisdn_hash,
    sandbox,
    stk_failure,
    stk_success,
    wait_for,
)

CONFIRM = f"/mpesa/c2b/confirmation/{TOKEN}"
VALIDATE = f"/mpesa/c2b/validation/{TOKEN}"
STK = f"/mpesa/stk/callback/{TOKEN}"


def post(client, url, payload=None, raw=None):
    data = raw if raw is not None else json.dumps(payload)
    response = client.post(url, data=data, content_type="application/json")
    body = response.get_json(silent=True)
    response.close()
    return response.status_code, body


@pytest.fixture
def member(app, make_member):
    member_id, number = make_member(first_name="Amina", phone="0712345678",
                                    joined_on=date(2025, 1, 10))
    assert number == "MLK-0001"
    return member_id


def payments(app):
    with app.app_context():
        return db.session.scalars(sa.select(Payment)).all()


# --- Tokens, the inbox, acknowledgements ------------------------------------------------


@pytest.mark.parametrize("path", ["/mpesa/stk/callback/", "/mpesa/c2b/validation/",
                                  "/mpesa/c2b/confirmation/", "/hooks/c2b/confirmation/",
                                  "/mpesa/status/result/"])
def test_a_wrong_token_is_404_and_nothing_is_kept(app, client, member, path):
    status, _ = post(client, path + "not-the-token", c2b_confirmation())
    assert status == 404
    status, _ = post(client, path + TOKEN[:-1], c2b_confirmation())
    assert status == 404
    with app.app_context():
        assert count(CallbackInbox) == 0 and count(MpesaTransaction) == 0


def test_no_token_configured_means_no_callback_address(app, client, member):
    app.config["MPESA_CALLBACK_TOKEN"] = None
    assert post(client, CONFIRM, c2b_confirmation())[0] == 404


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b"\xff\xfe\x00garbage",
                                 b'{"Body": {}}', b'{"Body": {"stkCallback": {"ResultCode": 0}}}'])
def test_malformed_bodies_are_stored_raw_and_acknowledged(app, client, member, raw):
    for url in (STK, CONFIRM):
        status, body = post(client, url, raw=raw)
        assert status == 200 and body["ResultCode"] == 0
    with app.app_context():
        stored = db.session.scalars(sa.select(CallbackInbox)).all()
        assert [row.raw_body for row in stored] == [raw, raw]
        assert all(row.outcome == "error" and row.error and row.processed_at for row in stored)
        assert count(MpesaTransaction) == 0 and count(Payment) == 0
        created = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "mpesa_callback_inbox", AuditEvent.action == "create")
            .order_by(AuditEvent.seq)).all()  # every stored body is audited, by its hash
        assert [(e.object_id, e.actor) for e in created] == [
            (str(row.id), "daraja:callback") for row in stored]
        assert all(json.loads(e.after)["raw_body"] == "sha256:" + hashlib.sha256(raw).hexdigest()
                   for e in created)


def test_an_enormous_body_is_refused(app, client, member):
    status, _ = post(client, CONFIRM, raw=b"{" + b" " * (inbox.MAX_BODY + 10) + b"}")
    assert status == 413
    with app.app_context():
        assert count(CallbackInbox) == 0


def test_csrf_does_not_apply_to_callbacks_but_still_to_everything_else(app, client, member):
    app.config["WTF_CSRF_ENABLED"] = True
    assert post(client, CONFIRM, c2b_confirmation())[0] == 200
    response = client.post("/login", data={"login": "chair", "password": "x"})
    assert response.status_code == 400
    response.close()


# --- Paybill (C2B) confirmations --------------------------------------------------------------


@pytest.mark.parametrize("typed", ["MLK-0001", "mlk 1", " Mlk-001 ", "0712345678", "MLKO001"])
def test_a_paybill_payment_with_a_sloppy_account_lands_on_the_member(app, client, member, typed):
    status, body = post(client, CONFIRM, c2b_confirmation(account=typed))
    assert (status, body) == (200, {"ResultCode": 0, "ResultDesc": "Success"})
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.CREDITED and tx.member_id == member
        payment = db.session.scalar(sa.select(Payment))
        assert payment.member_id == member and payment.amount_cents == 50_000
        assert payment.method == PaymentMethod.MPESA and payment.mpesa_code == "TC57ABC9XY"
        assert payment.receipt.number.startswith("MLK-")
        row = db.session.scalar(sa.select(CallbackInbox))
        assert row.outcome == "credited" and row.key == "TC57ABC9XY"


def test_the_hashed_msisdn_finds_the_payer(app, client, member):
    post(client, CONFIRM, c2b_confirmation(account="house 12",
                                           msisdn=msisdn_hash("+254712345678")))
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.member_id)) == member


@pytest.mark.parametrize("amount, cents", [("500.00", 50_000), (500, 50_000), (500.5, 50_050),
                                           ("1,500", 150_000), ("50", 5_000)])
def test_amounts_as_strings_or_numbers(app, client, member, amount, cents):
    post(client, CONFIRM, c2b_confirmation(amount=amount))
    with app.app_context():
        assert db.session.scalar(sa.select(Payment.amount_cents)) == cents


@pytest.mark.parametrize("amount", ["0", "-50", "abc", "1e9999", "10.001", None, True,
                                    "99999999999999"])
def test_bad_amounts_are_stored_but_never_credited(app, client, member, amount):
    status, _ = post(client, CONFIRM, c2b_confirmation(amount=amount))
    assert status == 200
    with app.app_context():
        assert count(Payment) == 0 and count(MpesaTransaction) == 0
        assert db.session.scalar(sa.select(CallbackInbox.outcome)) == "error"


@pytest.mark.parametrize("field", ["TransID", "TransAmount", "BusinessShortCode"])
def test_missing_fields(app, client, member, field):
    body = c2b_confirmation()
    del body[field]
    assert post(client, CONFIRM, body)[0] == 200
    with app.app_context():
        assert count(Payment) == 0
        assert field in db.session.scalar(sa.select(CallbackInbox.error))


def test_money_paid_to_another_shortcode_is_rejected(app, client, member):
    post(client, CONFIRM, c2b_confirmation(shortcode="999999"))
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.REJECTED and count(Payment) == 0


def test_an_unknown_account_waits_in_suspense(app, client, member):
    post(client, CONFIRM, c2b_confirmation(account="HSE-12", msisdn="9" * 64))
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.SUSPENSE and tx.member_id is None
        assert count(Payment) == 0


def test_a_replayed_confirmation_makes_one_payment(app, client, member):
    for _ in range(5):
        assert post(client, CONFIRM, c2b_confirmation())[0] == 200
    with app.app_context():
        assert count(Payment) == 1 and count(CallbackInbox) == 5
        outcomes = db.session.scalars(sa.select(CallbackInbox.outcome)
                                      .order_by(CallbackInbox.id)).all()
        assert outcomes == ["credited"] + ["duplicate"] * 4
        assert member_balance(member) == -50_000


def test_a_receipt_already_typed_by_the_treasurer_is_not_counted_again(app, client, member):
    with app.app_context(), acting_as("test"):
        record_payment(db.session.get(Member, member), 50_000, PaymentMethod.MPESA,
                       date(2025, 3, 5), None, reference="TC57ABC9XY")
        db.session.commit()
    post(client, CONFIRM, c2b_confirmation())
    with app.app_context():
        assert count(Payment) == 1 and count(Receipt) == 1
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.CREDITED and tx.payment_id is not None


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_the_acknowledgement_goes_out_before_processing(app, daraja, member):  # noqa: F811
    """Daraja gets its answer while the payment is still being checked and credited."""
    daraja.stop_worker()  # the worker's turn comes when the test client closes the response
    client = app.test_client()
    response = client.post(CONFIRM, data=json.dumps(c2b_confirmation(receipt="TC57ACK001",
                                                                     account="mlk-1")),
                           content_type="application/json", buffered=False)
    assert response.status_code == 200
    assert response.get_json() == {"ResultCode": 0, "ResultDesc": "Success"}
    with app.app_context():  # answered, stored, not yet processed
        assert count(CallbackInbox) == 1 and count(Payment) == 0
    response.close()  # the server closes the response; then the worker's step runs
    with app.app_context():
        assert count(Payment) == 1
        assert db.session.scalar(sa.select(CallbackInbox.processed_at)) is not None


@pytest.mark.committed(reason="20 threads post to the app served over HTTP in threads of "
                              "its own: the database's locking makes one payment")
def test_the_same_confirmation_20_times_in_parallel_makes_one_payment(app, daraja, member):  # noqa: F811, E501
    body = c2b_confirmation(receipt="TC57PAR001", account="mlk-1")
    start = threading.Barrier(20)
    answers = []

    def send():
        start.wait()
        answers.append(daraja.post(CONFIRM, body))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a[0] for a in answers] == [200] * 20
    assert all(a[1] == {"ResultCode": 0, "ResultDesc": "Success"} for a in answers)
    with app.app_context():
        assert count(Payment) == 1 and count(Receipt) == 1 and count(MpesaTransaction) == 1
        assert count(CallbackInbox) == 20
        assert db.session.scalar(sa.select(sa.func.count(CallbackInbox.id)).where(
            CallbackInbox.processed_at.is_(None))) == 0
        assert member_balance(member) == -50_000


# --- Paybill validation -------------------------------------------------------------------


def test_validation_accepts_known_accounts(app, client, member):
    status, body = post(client, VALIDATE, c2b_confirmation(account="mlk 1", OrgAccountBalance=""))
    assert (status, body) == (200, {"ResultCode": "0", "ResultDesc": "Accepted"})
    with app.app_context():
        assert count(Payment) == 0  # validation is not payment
        assert db.session.scalar(sa.select(CallbackInbox.outcome)) == "accepted"


def test_validation_of_unknown_accounts_follows_the_treasurers_choice(app, client, member):
    assert post(client, VALIDATE, c2b_confirmation(account="nobody 77", msisdn="1" * 64))[1] \
        == {"ResultCode": "0", "ResultDesc": "Accepted"}
    with app.app_context():
        db.session.get(MpesaSettings, 1).unknown_account = UnknownAccountAction.REJECT
        db.session.commit()
    assert post(client, VALIDATE, c2b_confirmation(account="nobody 77", msisdn="1" * 64))[1] \
        == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    assert post(client, VALIDATE, c2b_confirmation(account="MLK-0001"))[1]["ResultCode"] == "0"


@pytest.mark.parametrize("change, code", [
    ({"BusinessShortCode": "111111"}, "C2B00015"),
    ({"TransAmount": "-5"}, "C2B00013"),
    ({"TransID": ""}, "C2B00016"),
])
def test_validation_refusals(app, client, member, change, code):
    assert post(client, VALIDATE, c2b_confirmation(**change))[1]["ResultCode"] == code


def test_validation_of_a_malformed_body_is_refused(app, client, member):
    assert post(client, VALIDATE, raw=b"nonsense")[1]["ResultCode"] == "C2B00016"


# --- The allow-list -----------------------------------------------------------------------------


def test_a_callback_from_outside_the_allow_list_is_kept_but_not_processed(app, client, member):
    app.config["MPESA_ALLOWED_IPS"] = "196.201.214.200, 196.201.214.206"
    status, _ = post(client, CONFIRM, c2b_confirmation())
    assert status == 403
    with app.app_context():
        row = db.session.scalar(sa.select(CallbackInbox))
        assert row.outcome == "refused_address" and row.remote_addr == "127.0.0.1"
        assert count(Payment) == 0 and count(MpesaTransaction) == 0
    app.config["MPESA_ALLOWED_IPS"] = "127.0.0.1"
    assert post(client, CONFIRM, c2b_confirmation())[0] == 200
    with app.app_context():
        assert count(Payment) == 1


def test_production_defaults_to_safaricoms_addresses(app, client, member):
    app.config.update(MPESA_ENV="production", MPESA_ALLOWED_IPS="")
    assert post(client, CONFIRM, c2b_confirmation())[0] == 403
    app.config["MPESA_ALLOWED_IPS"] = "*"
    assert post(client, CONFIRM, c2b_confirmation())[0] == 200


# --- Transaction Status: verification before credit -----------------------------------------


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_with_initiator_credentials_paybill_money_waits_for_transaction_status(
        app, daraja, sandbox, member):  # noqa: F811
    app.config.update(MPESA_INITIATOR_NAME="testapi", MPESA_SECURITY_CREDENTIAL="cred")
    app.extensions.pop("mpesa_provider", None)
    sandbox.state.transactions["TC57GENUIN"] = {"amount": 500, "phone": "254712345678",
                                                "shortcode": "174379", "time": None}
    import datetime as dt

    sandbox.state.transactions["TC57GENUIN"]["time"] = dt.datetime.now(dt.UTC)
    for receipt in ("TC57GENUIN", "TC57FORGED"):
        status, _ = daraja.post(CONFIRM, c2b_confirmation(receipt=receipt))
        assert status == 200

    def settled():
        with app.app_context():
            rows = db.session.scalars(sa.select(CallbackInbox.outcome).where(
                CallbackInbox.kind == "status_result")).all()
            return len(rows) == 2 and all(rows)  # both stored and processed

    wait_for(settled)
    with app.app_context():
        genuine = db.session.scalar(sa.select(MpesaTransaction).where(
            MpesaTransaction.receipt_code == "TC57GENUIN"))
        forged = db.session.scalar(sa.select(MpesaTransaction).where(
            MpesaTransaction.receipt_code == "TC57FORGED"))
        assert genuine.status == TransactionStatus.CREDITED
        assert forged.status == TransactionStatus.UNCONFIRMED and "could not confirm" in forged.note
        assert count(Payment) == 1 and member_balance(member) == -50_000


# --- STK callbacks ------------------------------------------------------------------------------


def _pending_request(app, member, checkout="ws_CO_TEST1", amount=50_000):
    with app.app_context(), acting_as("test"):
        request = StkRequest(member_id=member, amount_cents=amount, phone="+254712345678",
                             account_reference="MLK-0001", status=StkStatus.PENDING,
                             checkout_request_id=checkout)
        db.session.add(request)
        db.session.commit()
        return request.id


def test_an_stk_callback_for_an_unknown_request_changes_nothing(app, client, member):
    status, body = post(client, STK, stk_success("ws_CO_NOBODY"))
    assert status == 200 and body["ResultCode"] == 0
    with app.app_context():
        row = db.session.scalar(sa.select(CallbackInbox))
        assert row.outcome == "unknown_request" and row.processed_at is None  # retried later
        assert count(MpesaTransaction) == 0 and count(Payment) == 0


def test_a_failure_callback_marks_the_request(app, client, member):
    request_id = _pending_request(app, member)
    post(client, STK, stk_failure("ws_CO_TEST1", 1032))
    with app.app_context():
        request = db.session.get(StkRequest, request_id)
        assert request.status == StkStatus.FAILED and request.result_code == "1032"
        assert count(Payment) == 0


def test_an_amount_that_disagrees_with_the_request_is_not_credited(app, client, member):
    _pending_request(app, member, amount=50_000)
    post(client, STK, stk_success("ws_CO_TEST1", amount="5.00"))
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction))
        assert tx.status == TransactionStatus.UNCONFIRMED and "differs" in tx.note
        assert count(Payment) == 0


@pytest.mark.committed(reason="the app is served over HTTP in a thread of its own (the "
                              "sandbox's callbacks reach it there) while the test goes on")
def test_a_forged_success_that_daraja_does_not_know_is_rejected(app, daraja, sandbox, member):  # noqa: F811
    """The right token and shape, a real pending prompt, but the payer cancelled it."""
    from association.mpesa import stk

    with app.app_context(), acting_as("test"):
        request = stk.create_request(db.session.get(Member, member), 50_000, "0712341032", None)
        db.session.commit()
        stk.send_request(request)
        db.session.commit()
        checkout, request_id = request.checkout_request_id, request.id
    sandbox.state.prompts[checkout]["answer_at"] = 0  # the sandbox has its answer: cancelled
    sandbox.state.prompts[checkout]["done"] = True
    status, _ = daraja.post(STK, stk_success(checkout, receipt="FORGED0001"))
    assert status == 200
    with app.app_context():
        tx = db.session.scalar(sa.select(MpesaTransaction).where(
            MpesaTransaction.receipt_code == "FORGED0001"))
        assert tx.status == TransactionStatus.REJECTED and "1032" in tx.note
        assert count(Payment) == 0
        assert db.session.get(StkRequest, request_id).status == StkStatus.FAILED


@pytest.mark.committed(reason="20 threads with connections of their own: the database's "
                              "locking makes one payment")
def test_the_same_stk_callback_20_times_in_parallel_makes_one_payment(
        app, daraja, sandbox, member):  # noqa: F811
    from association.mpesa import stk

    with app.app_context(), acting_as("test"):
        # A phone ending 9999: the sandbox records the payment but posts no callback itself.
        request = stk.create_request(db.session.get(Member, member), 50_000, "0712349999", None)
        db.session.commit()
        stk.send_request(request)
        db.session.commit()
        checkout, request_id = request.checkout_request_id, request.id
    wait_for(lambda: sandbox.state.prompts[checkout]["done"])
    receipt = sandbox.state.prompts[checkout]["receipt"]
    body = stk_success(checkout, receipt=receipt, amount="500.00")  # the amount as a string
    start = threading.Barrier(20)
    answers = []

    def send():
        start.wait()
        answers.append(daraja.post(STK, body))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [a[0] for a in answers] == [200] * 20
    with app.app_context():
        assert count(Payment) == 1 and count(MpesaTransaction) == 1
        assert db.session.get(StkRequest, request_id).status == StkStatus.PAID
        outcomes = db.session.scalars(sa.select(CallbackInbox.outcome)).all()
        assert sorted(outcomes) == ["credited"] + ["duplicate"] * 19
        assert member_balance(member) == -50_000


def test_the_inbox_is_append_only(app, client, member):
    from association.mpesa.inbox import InboxChangeError

    post(client, CONFIRM, c2b_confirmation())
    with app.app_context():
        row = db.session.scalar(sa.select(CallbackInbox))
        row.raw_body = b'{"TransAmount": "5000000.00"}'
        with pytest.raises(InboxChangeError):
            db.session.flush()
        db.session.rollback()
        row = db.session.scalar(sa.select(CallbackInbox))
        db.session.delete(row)
        with pytest.raises(InboxChangeError):
            db.session.flush()
        db.session.rollback()


def test_stored_callbacks_are_audited_as_darajas_and_keep_the_chain(app, web, people):
    """Each stored body and its processing are in the audit trail under Daraja's name,
    even when a browser's login cookie comes along, and the chain still verifies."""
    from association.audit.services import verify_chain

    web.login("treasurer")
    bodies = [c2b_confirmation(receipt=f"TA{n:08d}", account=people.own_member_no, amount="50")
              for n in range(3)]
    for body in [*bodies, bodies[0]]:
        assert post(web.client, CONFIRM, body) == (200, {"ResultCode": 0,
                                                         "ResultDesc": "Success"})
    with app.app_context():
        rows = db.session.scalars(sa.select(CallbackInbox).order_by(CallbackInbox.id)).all()
        assert [r.outcome for r in rows] == ["credited"] * 3 + ["duplicate"]
        events = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.object_type == "mpesa_callback_inbox")).all()
        assert {(e.action, e.object_id) for e in events} >= {("create", str(r.id)) for r in rows}
        assert {e.actor for e in events} == {"daraja:callback"}
        assert sorted(db.session.scalars(sa.select(Payment.mpesa_code))) == [
            b["TransID"] for b in bodies]
        assert verify_chain().ok


def _keep_in_threads(app, bodies: list[bytes], results: dict) -> list[threading.Thread]:
    """Each body kept by a thread of its own, as the server's threads keep callbacks."""

    def run(raw):
        with app.app_context(), acting_as("daraja:callback"):
            try:
                results[raw] = inbox.keep(CallbackKind.C2B_CONFIRMATION, raw, None)
            except Exception as error:  # noqa: BLE001 - what each thread was told
                results[raw] = error

    return [threading.Thread(target=run, args=(raw,)) for raw in bodies]


class BeforeCommit:
    """Called before each commit of the app's sessions, within its ``with`` block."""

    def __enter__(self):
        sa.event.listen(db.session.session_factory.class_, "before_commit", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.session.session_factory.class_, "before_commit", self)


class CommitWatch(BeforeCommit):
    """The commits of the app's sessions; the first waits until ``waiting`` bodies queue
    behind it, and the ones listed in ``refuse`` fail."""

    def __init__(self, app, waiting: int, refuse=()):
        self.app, self.waiting, self.refuse, self.count = app, waiting, set(refuse), 0

    def __call__(self, session):
        if session.in_nested_transaction():
            return
        self.count += 1
        if self.count == 1:
            writer = inbox._inbox_writer(self.app)
            wait_for(lambda: len(writer.waiting) == self.waiting, every=0.01)
        if self.count in self.refuse:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))


def _keep_behind_the_first(app, bodies: list[bytes], commits: CommitWatch) -> dict:
    """Each body kept by a thread of its own: the first one's, then the others while
    ``commits`` holds the first commit. Returns what each thread was told."""
    results = {}
    first, *others = _keep_in_threads(app, bodies, results)
    first.start()
    wait_for(lambda: commits.count == 1, every=0.01)
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(30)
    return results


@pytest.mark.committed(reason="threads keep bodies at once: the group commit is a real "
                              "commit on its own connection")
def test_bodies_kept_at_the_same_moment_share_one_transaction(app):
    """Group commit: four bodies arriving while another is being committed wait for it,
    then go in together, one transaction for the four, each told its own row."""
    bodies = [json.dumps(c2b_confirmation(receipt=f"TG{n:08d}")).encode() for n in range(5)]
    with CommitWatch(app, waiting=4) as commits:
        results = _keep_behind_the_first(app, bodies, commits)
    assert commits.count == 2
    with app.app_context():
        rows = {row.id: row.raw_body for row in db.session.scalars(sa.select(CallbackInbox))}
        assert sorted(rows.values()) == sorted(bodies)
        assert {raw: results[raw].id for raw in bodies} == {raw: i for i, raw in rows.items()}
        assert not any(result.refused for result in results.values())
        created = db.session.scalars(sa.select(AuditEvent.object_id).where(
            AuditEvent.object_type == "mpesa_callback_inbox", AuditEvent.action == "create"))
        assert sorted(map(int, created)) == sorted(rows)


@pytest.mark.committed(reason="threads keep bodies at once: the group commit is a real "
                              "commit on its own connection")
def test_a_failed_group_commit_keeps_none_of_its_bodies_and_tells_each_thread(app):
    bodies = [json.dumps(c2b_confirmation(receipt=f"TH{n:08d}")).encode() for n in range(4)]
    with CommitWatch(app, waiting=3, refuse={2}) as commits:
        results = _keep_behind_the_first(app, bodies, commits)
    assert isinstance(results[bodies[0]], inbox.Stored)
    # The thread that wrote the batch has the database's error, the others are told too:
    # each answers Daraja with an error, and Daraja sends its callback again.
    errors = sorted(type(results[raw]).__name__ for raw in bodies[1:])
    assert errors == ["InboxWriteError", "InboxWriteError", "OperationalError"]
    with app.app_context():
        assert list(db.session.scalars(sa.select(CallbackInbox.raw_body))) == bodies[:1]
    # Nothing is left stuck: the next body is kept at once.
    later = json.dumps(c2b_confirmation(receipt="TH99999999")).encode()
    [thread] = _keep_in_threads(app, [later], results)
    thread.start()
    thread.join(30)
    assert isinstance(results[later], inbox.Stored)


def test_a_body_kept_inside_a_transaction_is_committed_with_it(app):
    """A caller already in a transaction (on SQLite, holding the write lock) does not
    wait for another thread's: its body is committed in its own."""
    raw = json.dumps(c2b_confirmation(receipt="TK00000001")).encode()
    with app.app_context(), acting_as("test"):
        db.session.execute(sa.select(CallbackInbox.id).limit(1))
        assert db.session().in_transaction()
        stored = inbox.keep(CallbackKind.C2B_CONFIRMATION, raw, None)
        assert not db.session().in_transaction()
    with app.app_context():
        assert db.session.get(CallbackInbox, stored.id).raw_body == raw


# --- Processing many stored bodies at once -------------------------------------------------


def _store(app, *bodies):
    with app.app_context(), acting_as("test"):
        for body in bodies:
            inbox.store(CallbackKind.C2B_CONFIRMATION, json.dumps(body).encode(), None)
        db.session.commit()


def test_a_burst_is_processed_in_batches_each_receipt_once(app, member):
    bodies = [c2b_confirmation(receipt=f"TB{n:08d}", account="mlk 1", amount="50.00")
              for n in range(12)]
    _store(app, *bodies, *bodies[:3], {"TransID": "TB99999999"})  # 3 repeats, 1 malformed
    with app.app_context(), acting_as("test"):
        assert processing.process_pending(batch=5) == 16
        assert processing.process_pending(batch=5) == 0  # nothing left, nothing redone
    with app.app_context():
        codes = db.session.scalars(sa.select(Payment.mpesa_code)).all()
        assert sorted(codes) == sorted(b["TransID"] for b in bodies)
        assert count(Receipt) == 12 and member_balance(member) == -12 * 5_000
        rows = db.session.scalars(sa.select(CallbackInbox).order_by(CallbackInbox.id)).all()
        assert [r.outcome for r in rows] == ["credited"] * 12 + ["duplicate"] * 3 + ["error"]
        assert all(r.processed_at is not None and r.attempts == 1 for r in rows)
        assert [r.key for r in rows[:13]] == [b["TransID"] for b in bodies] + ["TB00000000"]


class Commits(BeforeCommit):
    """The transactions committed (savepoints aside)."""

    def __init__(self):
        self.count = 0

    def __call__(self, session):
        if not session.in_nested_transaction():
            self.count += 1


def test_the_worker_processes_a_burst_in_one_transaction(app, member):
    """Bodies stored while the worker was busy or asleep are credited in one
    transaction when it next looks, not one for every few bodies."""
    for n in range(10):
        _store(app, c2b_confirmation(receipt=f"TJ{n:08d}", account="MLK-0001", amount="50"))
    with Commits() as commits, app.app_context():
        assert run_steps() == 10
    assert commits.count == 1
    with app.app_context():
        assert count(Payment) == 10 and member_balance(member) == -10 * 5_000


@pytest.mark.committed(reason="the worker's loop runs in a thread of its own, on its own "
                              "connection")
def test_a_lone_body_is_processed_by_the_running_worker(app, member):
    """The worker's loop finds a body stored while it sleeps, within moments."""
    worker = Worker(app, "test", poll=0.2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _store(app, c2b_confirmation(receipt="TJ99999999", account="MLK-0001", amount="50"))

        def credited():
            with app.app_context():
                return count(Payment) == 1

        wait_for(credited, timeout=30)
    finally:
        worker.stop()
        thread.join(60)
    assert not thread.is_alive()
    with app.app_context():
        assert count(Payment) == 1


def test_one_callback_processes_what_others_left_stored(app, client, member):
    """Bodies stored by requests that died before processing them are not left waiting."""
    _store(app, c2b_confirmation(receipt="TC57LEFT01", account="MLK-0001", amount="50"))
    assert post(client, CONFIRM, c2b_confirmation(receipt="TC57NEXT01", amount="70"))[0] == 200
    with app.app_context():
        assert sorted(db.session.scalars(sa.select(Payment.mpesa_code))) == ["TC57LEFT01",
                                                                             "TC57NEXT01"]


def test_bodies_already_tried_are_left_to_reconcile(app, client, member):
    """A body whose processing must wait (here an STK callback that overtook its request)
    is tried once after its acknowledgement, then only by ``flask mpesa reconcile``."""
    assert post(client, STK, stk_success("ws_CO_NOTYET", amount=50))[0] == 200
    assert post(client, CONFIRM, c2b_confirmation())[0] == 200
    with app.app_context():
        waiting = db.session.scalar(sa.select(CallbackInbox).where(
            CallbackInbox.key == "ws_CO_NOTYET"))
        assert waiting.processed_at is None and waiting.attempts == 1
        assert waiting.outcome == "unknown_request" and count(Payment) == 1


def test_a_batch_that_cannot_be_committed_is_processed_one_by_one(app, member):
    bodies = [c2b_confirmation(receipt=f"TF{n:08d}", account="MLK-0001") for n in range(4)]
    _store(app, *bodies)
    failures = []

    def refuse_once(session):  # the database refuses the first commit (a lost connection)
        if not failures and not session.in_nested_transaction():
            failures.append(True)
            raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    with app.app_context(), acting_as("test"):
        sa.event.listen(db.session.session_factory.class_, "before_commit", refuse_once)
        try:
            assert processing.process_pending() == 4
        finally:
            sa.event.remove(db.session.session_factory.class_, "before_commit", refuse_once)
    with app.app_context():
        assert failures and count(Payment) == 4 and count(Receipt) == 4
        assert db.session.scalar(sa.select(sa.func.count(CallbackInbox.id)).where(
            CallbackInbox.processed_at.is_(None))) == 0


@pytest.mark.committed(reason="it counts the savepoints the app makes: in a rolled-back "
                              "test each of the app's transactions is one more")
def test_a_batch_credits_its_plain_confirmations_together_with_the_same_books(app, make_member):
    """The plain confirmations of a batch (new code, our shortcode, a member named) are
    credited together, each with the books one at a time would give it: oldest dues
    first, the rest kept as credit, the next receipt number. The others (a repeat, money
    for suspense, a wrong shortcode, a code typed by hand, a malformed body) are
    processed one by one as before."""
    from association.audit.services import verify_chain
    from association.ledger.balances import credit_balances
    from association.ledger.dues import add_rate_schedule, bill_month
    from association.ledger.models import Allocation, DuesCharge, Posting, Side
    from tests.ledger.conftest import EXAMPLE_RATES

    amina, _ = make_member(first_name="Amina", phone="0712345678", joined_on=date(2025, 1, 10))
    baraka, _ = make_member(first_name="Baraka", phone="0722000111", joined_on=date(2025, 1, 10))
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), EXAMPLE_RATES, "AGM 2025-01-18, resolution 4", None)
        for month in (1, 2, 3):
            bill_month(date(2025, month, 1))
        record_payment(db.session.get(Member, baraka), 5_000, PaymentMethod.MPESA,
                       date(2025, 3, 2), None, reference="TH00000005")  # typed by hand
        db.session.commit()
    plain = [c2b_confirmation(receipt="TH00000001", account="mlk 1", amount="70.00"),
             c2b_confirmation(receipt="TH00000002", account="MLK-0001", amount="100")]
    _store(app, *plain, plain[0],
           c2b_confirmation(receipt="TH00000003", account="nobody"),
           c2b_confirmation(receipt="TH00000004", shortcode="999999"),
           c2b_confirmation(receipt="TH00000005", account="MLK-0002", amount="50"),
           {"TransID": "TH00000006"},
           c2b_confirmation(receipt="TH00000007", account="MLK-0002", amount="50"))
    inserts, savepoints = [], []

    def count_inserts(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO payment "):
            inserts.append(statement)
        if statement.startswith("SAVEPOINT"):
            savepoints.append(statement)

    with app.app_context(), acting_as("daraja:callback"):
        sa.event.listen(db.engine, "before_cursor_execute", count_inserts)
        try:
            assert processing.process_pending() == 8
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count_inserts)
    assert len(inserts) == 1  # the three new payments in one statement
    assert len(savepoints) == 6  # the one-by-one rows only (7 when the repeat was one too)
    with app.app_context():
        rows = db.session.scalars(sa.select(CallbackInbox).order_by(CallbackInbox.id)).all()
        assert [r.outcome for r in rows] == ["credited", "credited", "duplicate", "suspense",
                                             "rejected", "credited", "error", "credited"]
        assert all(r.processed_at is not None and r.attempts == 1 for r in rows)
        assert [r.key for r in rows[:2]] == ["TH00000001", "TH00000002"]
        by_code = {p.mpesa_code: p for p in db.session.scalars(sa.select(Payment))}
        assert sorted(by_code) == ["TH00000001", "TH00000002", "TH00000005", "TH00000007"]

        def settled(code):
            return [(a.charge.month.month, a.amount_cents) for a in db.session.scalars(
                sa.select(Allocation).join(DuesCharge).where(
                    Allocation.payment_id == by_code[code].id).order_by(DuesCharge.month))]

        assert settled("TH00000001") == [(1, 5_000), (2, 2_000)]
        assert settled("TH00000002") == [(2, 3_000), (3, 5_000)]
        assert settled("TH00000007") == [(2, 5_000)]  # Baraka's hand payment took January
        assert member_balance(amina) == -2_000 and credit_balances([amina]) == {amina: 2_000}
        assert member_balance(baraka) == 5_000  # March still open
        txs = {t.receipt_code: t for t in db.session.scalars(sa.select(MpesaTransaction))}
        for code in ("TH00000001", "TH00000002", "TH00000007"):
            assert txs[code].status == TransactionStatus.CREDITED
            assert txs[code].payment_id == by_code[code].id
            assert txs[code].member_id == by_code[code].member_id
            assert by_code[code].receipt is not None
        assert txs["TH00000003"].status == TransactionStatus.SUSPENSE
        assert txs["TH00000004"].status == TransactionStatus.REJECTED
        assert txs["TH00000005"].payment_id == by_code["TH00000005"].id
        seqs = sorted(db.session.scalars(sa.select(Receipt.seq)))
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 4  # no gaps
        debit = sa.func.sum(sa.case((Posting.side == Side.DEBIT, Posting.amount_cents), else_=0))
        credit = sa.func.sum(sa.case((Posting.side == Side.CREDIT, Posting.amount_cents),
                                     else_=0))
        debits, credits = db.session.execute(sa.select(debit, credit)).one()
        assert debits == credits
        audited = set(db.session.execute(sa.select(AuditEvent.object_type, AuditEvent.object_id)
                                         .where(AuditEvent.action == "create")))
        for code in ("TH00000001", "TH00000002", "TH00000007"):
            assert ("payment", str(by_code[code].id)) in audited
            assert ("receipt", str(by_code[code].receipt.id)) in audited
            assert ("mpesa_transaction", str(txs[code].id)) in audited
        assert verify_chain().ok


def test_repeats_in_a_batch_are_duplicates_whatever_the_amount(app, member):
    """A repeat of a receipt credited earlier or in the same batch is a duplicate and
    changes nothing; one with another amount is looked at alone, with the same outcome."""
    first = c2b_confirmation(receipt="TR00000001", account="mlk 1", amount="50")
    _store(app, first)
    with app.app_context(), acting_as("daraja:callback"):
        assert processing.process_pending() == 1
    second = c2b_confirmation(receipt="TR00000002", account="mlk 1", amount="70")
    _store(app, first, second, second, {**second, "TransAmount": "71.00"},
           {**first, "TransAmount": "49"})
    with app.app_context(), acting_as("daraja:callback"):
        assert processing.process_pending() == 5
    with app.app_context():
        rows = db.session.scalars(sa.select(CallbackInbox).order_by(CallbackInbox.id)).all()
        assert [r.outcome for r in rows] == ["credited", "duplicate", "credited", "duplicate",
                                             "duplicate", "duplicate"]
        assert [r.key for r in rows] == ["TR00000001", "TR00000001", "TR00000002",
                                         "TR00000002", "TR00000002", "TR00000001"]
        assert all(r.attempts == 1 and r.processed_at for r in rows)
        assert sorted(db.session.scalars(sa.select(Payment.amount_cents))) == [5_000, 7_000]
        assert member_balance(member) == -12_000
        assert count(MpesaTransaction) == 2
