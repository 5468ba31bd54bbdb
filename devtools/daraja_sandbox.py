"""A local Daraja sandbox: a real HTTP server speaking Daraja's wire format, offline.

``flask --app wsgi mpesa sandbox [--port 8765]`` runs it; ``make run`` starts it
beside the app, so a newcomer can pay "by M-Pesa" end to end with no internet.
It answers OAuth, STK push (then POSTs the callback to the CallBackURL after a
short delay), STK push query ("being processed" while the prompt is open), C2B
URL registration, C2B simulate (validation, then confirmation, to the
registered URLs) and Transaction Status (the Result POSTed to ResultURL).

The outcome of a prompt is chosen by the last four digits of the phone:

======  ==========================================================
 1032   cancelled by the user
 1037   timed out: the phone could not be reached
 1111   insufficient funds (ResultCode 1)
 2001   wrong PIN
 9999   paid, but the callback never comes (for reconciliation)
 other  paid
======  ==========================================================
"""

import base64
import hashlib
import json
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from association.core.time import MPESA_ZONE

PUBLIC_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

#: Last four digits of the phone -> (ResultCode, ResultDesc).
OUTCOMES = {
    "1032": (1032, "Request cancelled by user"),
    "1037": (1037, "DS timeout user cannot be reached"),
    "1111": (1, "The balance is insufficient for the transaction."),
    "2001": (2001, "The initiator information is invalid."),
}
SUCCESS = (0, "The service request is processed successfully.")
LOST_CALLBACK = "9999"


def _now_eat() -> datetime:
    return datetime.now(MPESA_ZONE)


def _receipt_code() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "S" + _now_eat().strftime("%y")[-1] + "".join(
        secrets.choice(alphabet) for _ in range(8))


def post_json(url: str, payload: dict, timeout: float = 10.0) -> tuple[int, dict | None]:
    """POST JSON the way Daraja does; return (status, parsed body or None)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the caller's own callback
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
        error.close()
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        return status, None


class SandboxState:
    """What the sandbox remembers: tokens, prompts, registered URLs, transactions."""

    def __init__(self, passkey: str, delay: float, consumer_key: str | None,
                 consumer_secret: str | None):
        self.passkey = passkey
        self.delay = delay
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.prompts: dict[str, dict] = {}
        self.c2b_urls: dict[str, dict] = {}
        #: receipt code -> transaction, for Transaction Status.
        self.transactions: dict[str, dict] = {}
        self.posted: list[tuple[str, dict, int]] = []
        self.timers: list[threading.Timer] = []

    def later(self, delay: float, fn, *args) -> None:
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        with self.lock:
            self.timers.append(timer)
        timer.start()

    def deliver(self, url: str, payload: dict) -> tuple[int, dict | None]:
        status, body = post_json(url, payload)
        with self.lock:
            self.posted.append((url, payload, status))
        return status, body


class DarajaSandboxHandler(BaseHTTPRequestHandler):
    server_version = "DarajaSandbox/1.0"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # --- Plumbing -------------------------------------------------------------

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"requestId": secrets.token_hex(8), "errorCode": code,
                             "errorMessage": message})

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self._error(404, "404.001.04", "Invalid Authentication passed")
            return False
        if header[7:] not in self.state.tokens:
            self._error(401, "404.001.03", "Invalid Access Token")
            return False
        return True

    # --- Routes ---------------------------------------------------------------

    def do_GET(self):  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        if url.path != "/oauth/v1/generate":
            return self._error(404, "404.001.01", "Resource not found")
        if parse_qs(url.query).get("grant_type") != ["client_credentials"]:
            return self._error(400, "400.008.02", "Invalid grant type passed")
        header = self.headers.get("Authorization", "")
        try:
            key, _, secret = base64.b64decode(header.removeprefix("Basic "),
                                              validate=True).decode().partition(":")
        except ValueError:
            key = secret = ""
        if not header.startswith("Basic ") or not key or not secret:
            return self._error(400, "400.008.01", "Invalid Authentication passed")
        if self.state.consumer_key and (key, secret) != (self.state.consumer_key,
                                                         self.state.consumer_secret):
            return self._error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(20)
        with self.state.lock:
            self.state.tokens.add(token)
        self._reply(200, {"access_token": token, "expires_in": "3599"})

    def do_POST(self):  # noqa: N802 - the stdlib's name
        path = urlsplit(self.path).path
        routes = {
            "/mpesa/stkpush/v1/processrequest": self.stk_push,
            "/mpesa/stkpushquery/v1/query": self.stk_query,
            "/mpesa/c2b/v1/registerurl": self.c2b_register,
            "/mpesa/c2b/v2/registerurl": self.c2b_register,
            "/mpesa/c2b/v1/simulate": self.c2b_simulate,
            "/mpesa/c2b/v2/simulate": self.c2b_simulate,
            "/mpesa/transactionstatus/v1/query": self.transaction_status,
        }
        body = self._body()  # read it whole first: the connection is kept alive
        route = routes.get(path)
        if route is None:
            return self._error(404, "404.001.01", "Resource not found")
        if not self._authorised():
            return None
        if body is None:
            return self._error(400, "400.002.05", "Invalid Request Payload")
        return route(body)

    def _check_password(self, body: dict) -> bool:
        shortcode = str(body.get("BusinessShortCode", ""))
        timestamp = str(body.get("Timestamp", ""))
        try:
            stamp = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=MPESA_ZONE)
        except ValueError:
            self._error(400, "400.002.02", "Bad Request - Invalid Timestamp")
            return False
        if abs((_now_eat() - stamp).total_seconds()) > 600:
            # A UTC timestamp is three hours off: Daraja answers "Wrong credentials".
            self._error(500, "500.001.1001", "Wrong credentials")
            return False
        expected = base64.b64encode(f"{shortcode}{self.state.passkey}{timestamp}".encode()).decode()
        if body.get("Password") != expected:
            self._error(500, "500.001.1001", "Wrong credentials")
            return False
        return True

    def stk_push(self, body: dict) -> None:
        for name in ("BusinessShortCode", "Password", "Timestamp", "TransactionType", "Amount",
                     "PartyA", "PartyB", "PhoneNumber", "CallBackURL", "AccountReference"):
            if body.get(name) in (None, ""):
                return self._error(400, "400.002.02", f"Bad Request - Invalid {name}")
        if not self._check_password(body):
            return None
        phone = str(body["PhoneNumber"])
        if not (len(phone) == 12 and phone.isdigit() and phone[:4] in ("2547", "2541")):
            return self._error(400, "400.002.02", "Bad Request - Invalid PhoneNumber")
        try:
            amount = int(str(body["Amount"]))
        except ValueError:
            return self._error(400, "400.002.02", "Bad Request - Invalid Amount")
        if amount < 1:
            return self._error(400, "400.002.02", "Bad Request - Invalid Amount")
        callback = str(body["CallBackURL"])
        if callback != callback.strip() or not callback.startswith(("http://", "https://")):
            return self._error(400, "400.002.02", "Bad Request - Invalid CallBackURL")
        if len(str(body["AccountReference"])) > 12:
            return self._error(400, "400.002.02", "Bad Request - Invalid AccountReference")
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            return self._error(400, "400.002.02", "Bad Request - Invalid TransactionType")
        checkout = f"ws_CO_{_now_eat():%d%m%Y%H%M%S}{secrets.randbelow(10**9):09d}"
        merchant = f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.randbelow(10**7)}"
        code, desc = OUTCOMES.get(phone[-4:], SUCCESS)
        prompt = {"checkout": checkout, "merchant": merchant, "amount": amount, "phone": phone,
                  "callback": callback, "code": code, "desc": desc, "done": False,
                  "answer_at": time.monotonic() + self.state.delay,
                  "shortcode": str(body["PartyB"]), "reference": body["AccountReference"]}
        if code == 0:
            prompt["receipt"] = _receipt_code()
        with self.state.lock:
            self.state.prompts[checkout] = prompt
        self.state.later(self.state.delay, self._answer_prompt, checkout)
        self._reply(200, {"MerchantRequestID": merchant, "CheckoutRequestID": checkout,
                          "ResponseCode": "0",
                          "ResponseDescription": "Success. Request accepted for processing",
                          "CustomerMessage": "Success. Request accepted for processing"})

    def _answer_prompt(self, checkout: str) -> None:
        state = self.state
        with state.lock:
            prompt = state.prompts[checkout]
            prompt["done"] = True
            if prompt["code"] == 0:
                state.transactions[prompt["receipt"]] = {
                    "amount": prompt["amount"], "phone": prompt["phone"],
                    "shortcode": prompt["shortcode"], "time": _now_eat()}
        stk = {"MerchantRequestID": prompt["merchant"], "CheckoutRequestID": checkout,
               "ResultCode": prompt["code"], "ResultDesc": prompt["desc"]}
        if prompt["code"] == 0:
            stk["CallbackMetadata"] = {"Item": [
                {"Name": "Amount", "Value": float(prompt["amount"])},
                {"Name": "MpesaReceiptNumber", "Value": prompt["receipt"]},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(_now_eat().strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(prompt["phone"])},
            ]}
        if prompt["phone"].endswith(LOST_CALLBACK):
            return
        state.deliver(prompt["callback"], {"Body": {"stkCallback": stk}})

    def stk_query(self, body: dict) -> None:
        if not body.get("CheckoutRequestID"):
            return self._error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if not self._check_password(body):
            return None
        with self.state.lock:
            prompt = self.state.prompts.get(str(body["CheckoutRequestID"]))
        if prompt is None:
            return self._error(500, "500.001.1001", "The transaction is not found")
        if not prompt["done"] and time.monotonic() < prompt["answer_at"]:
            return self._error(500, "500.001.1001", "The transaction is being processed")
        self._reply(200, {"ResponseCode": "0",
                          "ResponseDescription": "The service request has been accepted "
                                                 "successsfully",
                          "MerchantRequestID": prompt["merchant"],
                          "CheckoutRequestID": prompt["checkout"],
                          "ResultCode": str(prompt["code"]), "ResultDesc": prompt["desc"]})

    def c2b_register(self, body: dict) -> None:
        shortcode = str(body.get("ShortCode") or "")
        if not shortcode or body.get("ResponseType") not in ("Completed", "Cancelled"):
            return self._error(400, "400.002.02", "Bad Request - Invalid ResponseType")
        for name in ("ConfirmationURL", "ValidationURL"):
            if not str(body.get(name, "")).startswith(("http://", "https://")):
                return self._error(400, "400.002.02", f"Bad Request - Invalid {name}")
        with self.state.lock:
            self.state.c2b_urls[shortcode] = {
                "confirmation": body["ConfirmationURL"], "validation": body["ValidationURL"],
                "default": body["ResponseType"]}
        self._reply(200, {"OriginatorCoversationID": secrets.token_hex(8), "ResponseCode": "0",
                          "ResponseDescription": "Success"})

    def c2b_simulate(self, body: dict) -> None:
        shortcode = str(body.get("ShortCode") or "")
        with self.state.lock:
            urls = self.state.c2b_urls.get(shortcode)
        if urls is None:
            return self._error(400, "400.002.02", "Bad Request - Invalid ShortCode "
                                                  "(register the C2B URLs first)")
        try:
            amount = int(str(body.get("Amount")))
        except ValueError:
            return self._error(400, "400.002.02", "Bad Request - Invalid Amount")
        msisdn = str(body.get("Msisdn") or "254708374149")
        if amount < 1 or not (len(msisdn) == 12 and msisdn.isdigit()):
            return self._error(400, "400.002.02", "Bad Request - Invalid Amount or Msisdn")
        receipt = _receipt_code()
        payment = {
            "TransactionType": "Pay Bill" if body.get("CommandID") != "CustomerBuyGoodsOnline"
            else "Buy Goods",
            "TransID": receipt, "TransTime": _now_eat().strftime("%Y%m%d%H%M%S"),
            "TransAmount": f"{amount}.00", "BusinessShortCode": shortcode,
            "BillRefNumber": str(body.get("BillRefNumber") or "")[:20], "InvoiceNumber": "",
            "OrgAccountBalance": "", "ThirdPartyTransID": "",
            "MSISDN": hashlib.sha256(msisdn.encode()).hexdigest(),
            "FirstName": "JOHN", "MiddleName": "", "LastName": "DOE",
        }
        self.state.later(min(self.state.delay, 0.5), self._c2b_deliver, urls, payment, msisdn)
        self._reply(200, {"OriginatorCoversationID": secrets.token_hex(8), "ResponseCode": "0",
                          "ResponseDescription": "Accept the service request successfully.",
                          "TransID": receipt})

    def _c2b_deliver(self, urls: dict, payment: dict, msisdn: str) -> None:
        state = self.state
        status, answer = state.deliver(urls["validation"], payment)
        if status == 200 and isinstance(answer, dict):
            accepted = str(answer.get("ResultCode")) == "0"
        else:
            accepted = urls["default"] == "Completed"
        if not accepted:
            return
        confirmation = dict(payment, OrgAccountBalance="12500.00")
        if isinstance(answer, dict) and answer.get("ThirdPartyTransID"):
            confirmation["ThirdPartyTransID"] = str(answer["ThirdPartyTransID"])
        with state.lock:
            state.transactions[payment["TransID"]] = {
                "amount": int(float(payment["TransAmount"])), "phone": msisdn,
                "shortcode": payment["BusinessShortCode"], "time": _now_eat()}
        state.deliver(urls["confirmation"], confirmation)

    def transaction_status(self, body: dict) -> None:
        for name in ("Initiator", "SecurityCredential", "CommandID", "PartyA", "IdentifierType",
                     "ResultURL", "QueueTimeOutURL"):
            if body.get(name) in (None, ""):
                return self._error(400, "400.002.02", f"Bad Request - Invalid {name}")
        if not body.get("TransactionID") and not body.get("OriginalConversationID"):
            return self._error(400, "400.002.02", "Bad Request - Invalid TransactionID")
        conversation = f"AG_{_now_eat():%Y%m%d}_{secrets.token_hex(8)}"
        originator = f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.randbelow(10**7)}"
        self.state.later(min(self.state.delay, 0.5), self._status_result, body, conversation,
                         originator)
        self._reply(200, {"OriginatorConversationID": originator,
                          "ConversationID": conversation, "ResponseCode": "0",
                          "ResponseDescription": "Accept the service request successfully."})

    def _status_result(self, body: dict, conversation: str, originator: str) -> None:
        receipt = str(body.get("TransactionID") or "").upper()
        with self.state.lock:
            found = self.state.transactions.get(receipt)
        result = {"ResultType": 0, "OriginatorConversationID": originator,
                  "ConversationID": conversation, "TransactionID": receipt or "0"}
        if found is None:
            result.update(ResultCode=2001, ResultDesc="The transaction receipt number does "
                                                      "not exist.")
        else:
            stamp = found["time"].strftime("%Y%m%d%H%M%S")
            result.update(ResultCode=0, ResultDesc="The service request is processed "
                                                   "successfully.",
                          ResultParameters={"ResultParameter": [
                              {"Key": "ReceiptNo", "Value": receipt},
                              {"Key": "TransactionStatus", "Value": "Completed"},
                              {"Key": "Amount", "Value": str(found["amount"])},
                              {"Key": "FinalisedTime", "Value": stamp},
                              {"Key": "InitiatedTime", "Value": stamp},
                              {"Key": "CreditPartyName",
                               "Value": f"{found['shortcode']} - Association"},
                              {"Key": "DebitPartyName", "Value": "2547******49 - JOHN DOE"},
                              {"Key": "ReasonType", "Value": "Pay Bill Online"},
                          ]},
                          ReferenceData={"ReferenceItem": {"Key": "Occasion",
                                                           "Value": body.get("Occasion", "")}})
        self.state.deliver(str(body["ResultURL"]), {"Result": result})


class DarajaSandbox(ThreadingHTTPServer):
    """The sandbox server; ``serve_forever`` in a thread, or ``run`` from the CLI."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, *, delay: float = 2.0,
                 passkey: str = PUBLIC_PASSKEY, consumer_key: str | None = None,
                 consumer_secret: str | None = None, verbose: bool = False):
        super().__init__((host, port), DarajaSandboxHandler)
        self.state = SandboxState(passkey, delay, consumer_key, consumer_secret)
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="daraja-sandbox", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        with self.state.lock:
            timers = list(self.state.timers)
        for timer in timers:
            timer.cancel()
        self.server_close()
