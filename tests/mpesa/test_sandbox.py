"""The local Daraja sandbox speaks Daraja's wire format, errors included."""

import base64
import hashlib
import json
import threading
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from association.mpesa.provider import nairobi_timestamp
from devtools.daraja_sandbox import PUBLIC_PASSKEY
from tests.mpesa.daraja_helpers import sandbox, wait_for  # noqa: F401 - fixture


def call(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = json.loads(error.read())
        error.close()
        return error.code, payload


def token(server) -> str:
    basic = base64.b64encode(b"key:secret").decode()
    status, body = call(server.url + "/oauth/v1/generate?grant_type=client_credentials",
                        headers={"Authorization": f"Basic {basic}"})
    assert status == 200
    assert set(body) == {"access_token", "expires_in"} and body["expires_in"] == "3599"
    return body["access_token"]


class Receiver:
    """Our side of the wire: records what the sandbox POSTs and answers like the app."""

    def __init__(self, answers=None):
        self.received = []
        answers = answers or {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append((self.path, body))
                answer = json.dumps(answers.get(self.path, {"ResultCode": 0,
                                                            "ResultDesc": "Accepted"})).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(answers=None):
        made.append(Receiver(answers))
        return made[-1]

    yield make
    for r in made:
        r.close()


def stk_body(phone="254712345678", callback="http://127.0.0.1:1/cb", **overrides):
    stamp = nairobi_timestamp()
    body = {"BusinessShortCode": 174379,
            "Password": base64.b64encode(f"174379{PUBLIC_PASSKEY}{stamp}".encode()).decode(),
            "Timestamp": stamp, "TransactionType": "CustomerPayBillOnline", "Amount": 50,
            "PartyA": phone, "PartyB": "174379", "PhoneNumber": phone, "CallBackURL": callback,
            "AccountReference": "MLK-0001", "TransactionDesc": "Dues"}
    body.update(overrides)
    return body


def test_oauth_errors(sandbox):  # noqa: F811
    status, body = call(sandbox.url + "/oauth/v1/generate?grant_type=password",
                        headers={"Authorization": "Basic " + base64.b64encode(b"k:s").decode()})
    assert (status, body["errorCode"]) == (400, "400.008.02")
    status, body = call(sandbox.url + "/oauth/v1/generate?grant_type=client_credentials",
                        headers={"Authorization": "Bearer nothing"})
    assert (status, body["errorCode"]) == (400, "400.008.01")


def test_calls_need_a_valid_bearer_token(sandbox):  # noqa: F811
    status, body = call(sandbox.url + "/mpesa/stkpush/v1/processrequest", "POST", stk_body())
    assert (status, body["errorCode"]) == (404, "404.001.04")
    status, body = call(sandbox.url + "/mpesa/stkpush/v1/processrequest", "POST", stk_body(),
                        {"Authorization": "Bearer forged"})
    assert (status, body["errorCode"]) == (401, "404.001.03")


@pytest.mark.parametrize("overrides, message", [
    ({"Password": "d3Jvbmc="}, "Wrong credentials"),
    ({"Timestamp": datetime.utcnow().strftime("%Y%m%d%H%M%S")}, "Wrong credentials"),  # noqa: DTZ003
    ({"PhoneNumber": "0712345678"}, "Invalid PhoneNumber"),
    ({"Amount": "1.50"}, "Invalid Amount"),
    ({"CallBackURL": " https://example.org/cb"}, "Invalid CallBackURL"),
    ({"AccountReference": "MLK-0001-EXTRA"}, "Invalid AccountReference"),
])
def test_stk_push_refusals(sandbox, overrides, message):  # noqa: F811
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    status, body = call(sandbox.url + "/mpesa/stkpush/v1/processrequest", "POST",
                        stk_body(**overrides), headers)
    assert status in (400, 500) and message in body["errorMessage"]


def test_stk_push_posts_the_callback_and_answers_queries(sandbox, receiver):  # noqa: F811
    sandbox.state.delay = 0.4
    app = receiver()
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    status, body = call(sandbox.url + "/mpesa/stkpush/v1/processrequest", "POST",
                        stk_body(callback=app.url + "/hooks/stk/callback/t"), headers)
    assert status == 200 and body["ResponseCode"] == "0"
    checkout = body["CheckoutRequestID"]
    stamp = nairobi_timestamp()
    query = {"BusinessShortCode": 174379, "Timestamp": stamp, "CheckoutRequestID": checkout,
             "Password": base64.b64encode(f"174379{PUBLIC_PASSKEY}{stamp}".encode()).decode()}
    status, body = call(sandbox.url + "/mpesa/stkpushquery/v1/query", "POST", query, headers)
    assert (status, body["errorCode"]) == (500, "500.001.1001")
    assert body["errorMessage"] == "The transaction is being processed"
    path, callback = wait_for(lambda: app.received and app.received[0])
    assert path == "/hooks/stk/callback/t"
    stk = callback["Body"]["stkCallback"]
    assert stk["ResultCode"] == 0 and stk["CheckoutRequestID"] == checkout
    items = {i["Name"]: i for i in stk["CallbackMetadata"]["Item"]}
    assert items["Amount"]["Value"] == 50.0 and "Value" not in items["Balance"]
    assert isinstance(items["PhoneNumber"]["Value"], int)
    assert isinstance(items["TransactionDate"]["Value"], int)
    status, body = call(sandbox.url + "/mpesa/stkpushquery/v1/query", "POST", query, headers)
    assert status == 200 and body["ResultCode"] == "0"


@pytest.mark.parametrize("ending, code", [("1032", 1032), ("1037", 1037), ("1111", 1),
                                          ("2001", 2001)])
def test_outcome_is_chosen_by_the_phones_last_digits(sandbox, receiver, ending, code):  # noqa: F811
    sandbox.state.delay = 0.05
    app = receiver()
    call(sandbox.url + "/mpesa/stkpush/v1/processrequest", "POST",
         stk_body(phone="25471234" + ending, callback=app.url + "/cb"),
         {"Authorization": f"Bearer {token(sandbox)}"})
    _, callback = wait_for(lambda: app.received and app.received[0])
    stk = callback["Body"]["stkCallback"]
    assert stk["ResultCode"] == code and "CallbackMetadata" not in stk


def test_c2b_simulate_posts_validation_then_confirmation(sandbox, receiver):  # noqa: F811
    app = receiver()
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    status, body = call(sandbox.url + "/mpesa/c2b/v1/registerurl", "POST", {
        "ShortCode": 600984, "ResponseType": "Completed",
        "ConfirmationURL": app.url + "/confirm", "ValidationURL": app.url + "/validate"}, headers)
    assert status == 200 and body["ResponseCode"] == "0" and "OriginatorCoversationID" in body
    status, body = call(sandbox.url + "/mpesa/c2b/v1/simulate", "POST", {
        "ShortCode": 600984, "CommandID": "CustomerPayBillOnline", "Amount": 300,
        "Msisdn": "254708374149", "BillRefNumber": "mlk 42"}, headers)
    assert status == 200
    wait_for(lambda: len(app.received) == 2)
    (v_path, validation), (c_path, confirmation) = app.received
    assert (v_path, c_path) == ("/validate", "/confirm")
    assert validation["OrgAccountBalance"] == "" and confirmation["OrgAccountBalance"]
    assert confirmation["TransAmount"] == "300.00" and confirmation["BillRefNumber"] == "mlk 42"
    assert confirmation["MSISDN"] == hashlib.sha256(b"254708374149").hexdigest()
    assert all(isinstance(v, str) for v in confirmation.values())


def test_a_rejected_validation_gets_no_confirmation(sandbox, receiver):  # noqa: F811
    app = receiver({"/validate": {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}})
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    call(sandbox.url + "/mpesa/c2b/v1/registerurl", "POST", {
        "ShortCode": 600984, "ResponseType": "Completed",
        "ConfirmationURL": app.url + "/confirm", "ValidationURL": app.url + "/validate"}, headers)
    call(sandbox.url + "/mpesa/c2b/v1/simulate", "POST", {
        "ShortCode": 600984, "CommandID": "CustomerPayBillOnline", "Amount": 300,
        "Msisdn": "254708374149", "BillRefNumber": "nobody"}, headers)
    wait_for(lambda: sandbox.state.posted)
    import time

    time.sleep(0.3)
    assert [path for path, _ in app.received] == ["/validate"]


def test_transaction_status_result_for_known_and_unknown_receipts(sandbox, receiver):  # noqa: F811
    app = receiver()
    headers = {"Authorization": f"Bearer {token(sandbox)}"}
    sandbox.state.transactions["TC57ABC9XY"] = {"amount": 500, "phone": "254708374149",
                                                "shortcode": "174379",
                                                "time": datetime.now()}  # noqa: DTZ005
    for receipt in ("TC57ABC9XY", "ZZ00000000"):
        status, body = call(sandbox.url + "/mpesa/transactionstatus/v1/query", "POST", {
            "Initiator": "api", "SecurityCredential": "x", "CommandID": "TransactionStatusQuery",
            "TransactionID": receipt, "PartyA": 174379, "IdentifierType": 4,
            "ResultURL": app.url + "/result", "QueueTimeOutURL": app.url + "/timeout",
            "Remarks": "check"}, headers)
        assert status == 200 and body["ResponseCode"] == "0"
    wait_for(lambda: len(app.received) == 2)
    results = {body["Result"]["TransactionID"]: body["Result"] for _, body in app.received}
    assert results["TC57ABC9XY"]["ResultCode"] == 0
    params = {p["Key"]: p["Value"] for p in
              results["TC57ABC9XY"]["ResultParameters"]["ResultParameter"]}
    assert params["ReceiptNo"] == "TC57ABC9XY" and params["Amount"] == "500"
    assert results["ZZ00000000"]["ResultCode"] != 0


def test_the_sandbox_command_serves_daraja(tmp_path):
    """`flask --app wsgi mpesa sandbox`, as `make run` starts it."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "flask", "--app", "wsgi", "mpesa", "sandbox", "--port", str(port),
         "--quiet"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "APP_ENV": "testing", "INSTANCE_PATH": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)

        class Server:
            url = f"http://127.0.0.1:{port}"

        assert token(Server)
    finally:
        process.terminate()
        process.wait(30)
        process.stdout.close()
