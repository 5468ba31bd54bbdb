"""Safaricom Kenya's Daraja behind our provider interface, with ``mpesakit``.

mpesakit gives the request and response models and the API services; we give
it our own HTTP client (any base URL, so the local sandbox and tests work
unchanged; timeouts; retries with back-off that never repeat a payment
prompt Daraja may have received) and our own token cache (one per process,
refreshed five minutes before expiry and at once on "Invalid Access Token").
"""

import base64
import logging
import threading
import time
from typing import Any

import httpx
from flask_babel import lazy_gettext as _l
from mpesakit.auth import TokenManager
from mpesakit.c2b import C2B, C2BRegisterUrlRequest
from mpesakit.errors import MpesaApiException, MpesaError
from mpesakit.http_client import HttpClient
from mpesakit.mpesa_express import StkPush, StkPushQueryRequest, StkPushSimulateRequest
from mpesakit.transaction_status import TransactionStatus, TransactionStatusRequest
from pydantic import ValidationError

from association.mpesa.provider import (
    AsyncAccepted,
    ProviderError,
    ProviderUnavailable,
    StkAccepted,
    StkQueryResult,
    nairobi_timestamp,
)

log = logging.getLogger(__name__)

HOSTS = {"sandbox": "https://sandbox.safaricom.co.ke", "production": "https://api.safaricom.co.ke"}
#: Daraja's answer to a query while the customer has not yet answered the prompt.
STILL_PROCESSING = "500.001.1001"
INVALID_TOKEN = "404.001.03"  # noqa: S105 - an error code
#: Refresh a token this long before Daraja says it expires.
TOKEN_MARGIN_SECONDS = 300


class DarajaHttpClient(HttpClient):
    """mpesakit's HTTP interface over httpx: any base URL, timeouts, retries with back-off.

    Errors reach mpesakit's callers as ``MpesaApiException`` whose ``error_code``
    is Daraja's own ``errorCode`` when the body has one.
    """

    def __init__(self, base_url: str, timeout: float = 15.0, attempts: int = 3,
                 backoff: float = 1.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        #: Set per call: False for a payment prompt, which must not be sent twice.
        self.local = threading.local()

    def _send(self, method: str, url: str, **kwargs) -> dict[str, Any]:
        resend_on_timeout = getattr(self.local, "resend_on_timeout", True)
        last: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                # A client per call: nothing shared between threads, no socket left open.
                with httpx.Client(timeout=self.timeout, trust_env=False) as client:
                    response = client.request(method, self.base_url + url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                last = error  # never reached Daraja: always safe to try again
                continue
            except httpx.TimeoutException as error:
                last = error
                if not resend_on_timeout:
                    break
                continue
            except httpx.HTTPError as error:
                last = error
                continue
            if response.status_code in (429, 502, 503, 504) and attempt + 1 < self.attempts:
                last = None
                continue
            return self._decode(response)
        code = "REQUEST_TIMEOUT" if isinstance(last, httpx.TimeoutException) else "CONNECTION_ERROR"
        raise MpesaApiException(MpesaError(error_code=code, error_message=str(last or "")))

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return data
        body = data if isinstance(data, dict) else {"errorMessage": response.text[:300]}
        raise MpesaApiException(MpesaError(
            error_code=str(body.get("errorCode") or f"HTTP_{response.status_code}"),
            error_message=str(body.get("errorMessage") or body.get("ResponseDescription") or ""),
            status_code=response.status_code,
            raw_response=body,
        ))

    def post(self, url: str, json: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return self._send("POST", url, json=json, headers=headers)

    def get(self, url: str, params: dict | None = None, headers: dict | None = None) -> dict:
        return self._send("GET", url, params=params, headers=headers or {})


#: One token per (host, consumer key) in this process: Daraja may invalidate the previous
#: token when a new one is issued, so every request of the process shares it.
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


class SharedTokenManager(TokenManager):
    """mpesakit's token manager with a process-wide cache and an early refresh."""

    def _key(self) -> tuple[str, str]:
        return (self.http_client.base_url, self.consumer_key)

    def forget(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._key(), None)

    def get_token(self, force_refresh: bool = False) -> str:
        with _TOKENS_LOCK:
            cached = _TOKENS.get(self._key())
            if cached and not force_refresh and cached[1] > time.monotonic():
                return cached[0]
            credentials = f"{self.consumer_key}:{self.consumer_secret}".encode()
            response = self.http_client.get(
                "/oauth/v1/generate", params={"grant_type": "client_credentials"},
                headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
            )
            token = response.get("access_token")
            try:
                lifetime = int(str(response.get("expires_in", "3599")).strip())
            except ValueError:
                lifetime = 3599
            if not token:
                raise MpesaApiException(MpesaError(error_code="TOKEN_MISSING",
                                                   error_message="no access_token"))
            lifetime = max(60, lifetime - TOKEN_MARGIN_SECONDS)
            _TOKENS[self._key()] = (token, time.monotonic() + lifetime)
            return token


def _password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def _message(error: MpesaApiException) -> str:
    return f"{error.error.error_code}: {error.error.error_message or ''}".strip()[:300]


class DarajaProvider:
    """The provider interface for Daraja (Kenya), sandbox or production."""

    def __init__(self, *, base_url: str, consumer_key: str, consumer_secret: str,
                 shortcode: str, passkey: str, shortcode_type: str = "paybill",
                 till_number: str | None = None, initiator_name: str | None = None,
                 security_credential: str | None = None, timeout: float = 15.0,
                 attempts: int = 3, backoff: float = 1.0):
        self.http = DarajaHttpClient(base_url, timeout, attempts, backoff)
        self.tokens = SharedTokenManager(consumer_key=consumer_key,
                                         consumer_secret=consumer_secret, http_client=self.http)
        self.shortcode = str(shortcode)
        self.passkey = passkey
        self.till = shortcode_type == "till"
        self.till_number = till_number
        self.initiator_name = initiator_name
        self.security_credential = security_credential
        self._stk = StkPush(http_client=self.http, token_manager=self.tokens)
        self._c2b = C2B(http_client=self.http, token_manager=self.tokens)
        self._status = TransactionStatus(http_client=self.http, token_manager=self.tokens)

    @classmethod
    def from_config(cls, config) -> "DarajaProvider":
        return cls(
            base_url=config.get("MPESA_BASE_URL") or HOSTS[config.get("MPESA_ENV", "sandbox")],
            consumer_key=config["MPESA_CONSUMER_KEY"],
            consumer_secret=config["MPESA_CONSUMER_SECRET"],
            shortcode=config["MPESA_SHORTCODE"],
            passkey=config["MPESA_PASSKEY"],
            shortcode_type=config.get("MPESA_SHORTCODE_TYPE", "paybill"),
            till_number=config.get("MPESA_TILL_NUMBER"),
            initiator_name=config.get("MPESA_INITIATOR_NAME"),
            security_credential=config.get("MPESA_SECURITY_CREDENTIAL"),
            timeout=float(config.get("MPESA_HTTP_TIMEOUT", 15)),
            attempts=int(config.get("MPESA_HTTP_ATTEMPTS", 3)),
            backoff=float(config.get("MPESA_HTTP_BACKOFF", 1)),
        )

    # --- Calls ---------------------------------------------------------------

    def _call(self, fn, *, resend_on_timeout: bool = True):
        """Run an mpesakit call; fetch a new token once if Daraja says it is invalid."""
        self.http.local.resend_on_timeout = resend_on_timeout
        try:
            for attempt in range(2):
                try:
                    return fn()
                except MpesaApiException as error:
                    invalid = (error.error.error_code == INVALID_TOKEN
                               or error.error.status_code == 401)
                    if invalid and attempt == 0:
                        self.tokens.forget()
                        continue
                    raise
        except MpesaApiException as error:
            code = error.error.error_code
            log.warning("Daraja error %s", _message(error))
            if code in ("REQUEST_TIMEOUT", "CONNECTION_ERROR"):
                raise ProviderUnavailable(
                    _l("M-Pesa (Daraja) could not be reached. Nothing was charged; "
                       "try again in a few minutes."), code=code, detail=_message(error),
                ) from None
            raise ProviderError(
                _l("M-Pesa refused the request: %(message)s",
                   message=error.error.error_message or code), code=code, detail=_message(error),
            ) from None
        finally:
            self.http.local.resend_on_timeout = True

    def stk_push(self, *, phone: str, amount: int, account_reference: str, description: str,
                 callback_url: str) -> StkAccepted:
        """Send the payment prompt to ``phone`` (2547XXXXXXXX) for ``amount`` whole shillings."""
        timestamp = nairobi_timestamp()
        try:
            request = StkPushSimulateRequest(
                BusinessShortCode=int(self.shortcode),
                Password=_password(self.shortcode, self.passkey, timestamp),
                Timestamp=timestamp,
                TransactionType="CustomerBuyGoodsOnline" if self.till else "CustomerPayBillOnline",
                Amount=int(amount),
                PartyA=phone,
                PartyB=str(self.till_number if self.till else self.shortcode),
                PhoneNumber=phone,
                CallBackURL=callback_url,
                AccountReference=account_reference[:12],
                TransactionDesc=description[:13],
            )
        except (ValidationError, ValueError) as error:
            raise ProviderError(_l("The payment request is not valid: %(error)s",
                                   error=str(error).splitlines()[0][:200])) from None
        response = self._call(lambda: self._stk.push(request), resend_on_timeout=False)
        if str(response.ResponseCode) != "0":
            raise ProviderError(_l("M-Pesa refused the request: %(message)s",
                                   message=response.ResponseDescription),
                                code=str(response.ResponseCode))
        return StkAccepted(response.CheckoutRequestID, response.MerchantRequestID,
                           response.CustomerMessage)

    def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """Ask Daraja what became of a prompt; "being processed" comes back as pending."""
        timestamp = nairobi_timestamp()
        request = StkPushQueryRequest(
            BusinessShortCode=int(self.shortcode),
            Password=_password(self.shortcode, self.passkey, timestamp),
            Timestamp=timestamp,
            CheckoutRequestID=checkout_request_id,
        )
        try:
            response = self._call(lambda: self._stk.query(request))
        except ProviderError as error:
            if error.code == STILL_PROCESSING and "process" in (error.detail or "").lower():
                return StkQueryResult(pending=True, result_code=None,
                                      result_desc=error.detail)
            raise
        return StkQueryResult(pending=False, result_code=str(response.ResultCode).strip(),
                              result_desc=(response.ResultDesc or "")[:300])

    def register_c2b_urls(self, *, confirmation_url: str, validation_url: str) -> dict:
        """Tell Daraja where to send paybill validations and confirmations."""
        request = C2BRegisterUrlRequest(
            ShortCode=int(self.till_number if self.till else self.shortcode),
            ResponseType="Completed", ConfirmationURL=confirmation_url,
            ValidationURL=validation_url,
        )
        response = self._call(lambda: self._c2b.register_url(request))
        return {"ResponseCode": str(response.ResponseCode),
                "ResponseDescription": response.ResponseDescription}

    def simulate_c2b(self, *, account: str, amount: int, phone: str) -> dict:
        """Sandbox only: pay ``amount`` shillings to the paybill from ``phone`` with
        ``account`` typed as the account; Daraja's answer."""
        body = {"ShortCode": self.shortcode, "CommandID": "CustomerPayBillOnline",
                "Amount": amount, "Msisdn": phone, "BillRefNumber": account}
        return self._call(lambda: self.http.post(
            "/mpesa/c2b/v1/simulate", json=body,
            headers={"Authorization": f"Bearer {self.tokens.get_token()}"}))

    def transaction_status(self, *, receipt_code: str, result_url: str,
                           timeout_url: str) -> AsyncAccepted:
        """Ask Daraja to confirm a receipt code; the answer is POSTed to ``result_url``."""
        if not (self.initiator_name and self.security_credential):
            raise ProviderError(_l("Transaction Status needs MPESA_INITIATOR_NAME and "
                                   "MPESA_SECURITY_CREDENTIAL."))
        request = TransactionStatusRequest(
            Initiator=self.initiator_name, SecurityCredential=self.security_credential,
            CommandID="TransactionStatusQuery", TransactionID=receipt_code,
            PartyA=int(self.shortcode), IdentifierType=4, ResultURL=result_url,
            QueueTimeOutURL=timeout_url, Remarks="Confirm payment", Occasion="dues",
        )
        response = self._call(lambda: self._status.query(request))
        return AsyncAccepted(response.ConversationID, response.OriginatorConversationID,
                             {"ResponseCode": str(response.ResponseCode)})
