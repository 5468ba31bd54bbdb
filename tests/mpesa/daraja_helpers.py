"""Fixtures for the Daraja side: the local sandbox and the app, both over real HTTP.

Import the fixtures into a test module (``from tests.mpesa.daraja_helpers import ...``):
the sandbox runs on a free port in a thread, and the app is served by werkzeug
on another, so the app's client talks HTTP to the sandbox and the sandbox's
callbacks reach the app over HTTP too, as Daraja's would.
"""

import hashlib
import json
import threading
import time
import urllib.request
from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.wsgi import ClosingIterator

from association.audit.services import acting_as
from association.extensions import db
from association.ledger.dues import add_rate_schedule
from association.worker import Worker, run_steps
from devtools.daraja_sandbox import DarajaSandbox
from tests.ledger.conftest import EXAMPLE_RATES

TOKEN = "test-callback-token-0123456789abcdef"


@pytest.fixture
def sandbox():
    """The local Daraja sandbox on a free port; prompts are answered after 0.3 s."""
    server = DarajaSandbox("127.0.0.1", 0, delay=0.3)
    server.start_in_thread()
    yield server
    server.stop()


class LiveApp:
    """The app served over HTTP on a free port."""

    def __init__(self, app):
        self.app = app
        self.busy = 0
        self.idle = threading.Condition()
        self.server = make_server("127.0.0.1", 0, self._counted, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _counted(self, environ, start_response):
        """The app, counting requests until the server has closed their responses."""
        with self.idle:
            self.busy += 1

        def done():
            with self.idle:
                self.busy -= 1
                self.idle.notify_all()

        try:
            return ClosingIterator(self.app(environ, start_response), [done])
        except BaseException:
            done()
            raise

    def wait_idle(self, timeout: float = 60) -> None:
        """Until every request so far has been answered and its work done (the callbacks
        it stored processed, as the worker process would)."""
        with self.idle:
            assert self.idle.wait_for(lambda: self.busy == 0, timeout), "the app stayed busy"
        with self.app.app_context():
            run_steps()  # what the worker process would do next

    def start_worker(self) -> None:
        self.worker = Worker(self.app, "test", poll=0.05)
        self.worker_thread = threading.Thread(target=self.worker.run, daemon=True)
        self.worker_thread.start()

    def stop_worker(self) -> None:
        """Stop the worker's loop (the batch under way is finished first)."""
        self.worker.stop()
        self.worker_thread.join(60)
        assert not self.worker_thread.is_alive(), "the worker did not stop"

    def post(self, path: str, payload, raw: bytes | None = None) -> tuple[int, dict | None]:
        """POST like Daraja; returns once the app has also processed what it acknowledged."""
        data = raw if raw is not None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - our own test server
            self.url + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
            error.close()
        self.wait_idle()
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None


@pytest.fixture
def daraja(request, app, sandbox, setup_association):
    """M-Pesa pointed at the sandbox, the app live over HTTP, the example dues rates.

    The live app answers in threads of its own while the test goes on, each with its own
    connection: a test using it commits for real and says so (``committed``)."""
    assert request.node.get_closest_marker("committed"), \
        "a test using the live app must be marked @pytest.mark.committed(reason=...)"
    live = LiveApp(app)
    app.config.update(MPESA_BASE_URL=sandbox.url, PUBLIC_BASE_URL=live.url)
    app.extensions.pop("mpesa_provider", None)
    with app.app_context(), acting_as("test"):
        add_rate_schedule(date(2025, 1, 1), EXAMPLE_RATES, "AGM 2025-01-18, resolution 4", None)
        db.session.commit()
    live.thread.start()
    # The worker process's loop, in a thread: callbacks arriving on their own (the
    # sandbox's) are processed as `flask worker` would process them.
    live.start_worker()
    yield live
    live.stop_worker()
    live.server.shutdown()
    live.server.server_close()
    app.extensions.pop("mpesa_provider", None)


def wait_for(check, timeout: float = 15.0, every: float = 0.1):
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def msisdn_hash(e164: str) -> str:
    return hashlib.sha256(e164.lstrip("+").encode()).hexdigest()


def c2b_confirmation(receipt="TC57ABC9XY", amount="500.00", account="MLK-0001",
                     shortcode="174379", msisdn="254708374149", **extra) -> dict:
    body = {"TransactionType": "Pay Bill", "TransID": receipt, "TransTime": "20250305183012",
            "TransAmount": amount, "BusinessShortCode": shortcode, "BillRefNumber": account,
            "InvoiceNumber": "", "OrgAccountBalance": "12500.00", "ThirdPartyTransID": "",
            "MSISDN": msisdn, "FirstName": "JANE", "MiddleName": "", "LastName": ""}
    body.update(extra)
    return body


def stk_success(checkout: str, receipt="TC54XYZ12A", amount=500.0, phone=254712345678,
                merchant="7f3a-41c2-9b1e-55aa0c1d2e3f1") -> dict:
    return {"Body": {"stkCallback": {
        "MerchantRequestID": merchant, "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": amount}, {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20250305101601},
            {"Name": "PhoneNumber", "Value": phone}]}}}}


def stk_failure(checkout: str, code=1032, desc="Request cancelled by user") -> dict:
    return {"Body": {"stkCallback": {"MerchantRequestID": "m-1", "CheckoutRequestID": checkout,
                                     "ResultCode": code, "ResultDesc": desc}}}


def rows(model, *where):
    return db.session.scalars(sa.select(model).where(*where)).all()


def mpesa_walk_values(app, other_member_id: int) -> dict:
    """For tests/test_access.py: the callback token and another member's STK request."""
    from association.mpesa.models import StkRequest, StkStatus

    request = StkRequest(member_id=other_member_id, amount_cents=5_000, phone="+254712000999",
                         account_reference="MLK-0002", status=StkStatus.FAILED,
                         checkout_request_id="ws_CO_WALK", result_code="1032")
    db.session.add(request)
    db.session.commit()
    # "tx_id" (for mpesa.confirm / mpesa.reject) comes from the suspense helper's walk values.
    return {"token": app.config["MPESA_CALLBACK_TOKEN"], "request_id": request.id}
