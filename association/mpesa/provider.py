"""Our small payment-provider interface: what the app needs from a mobile-money API.

The app speaks only to :class:`PaymentProvider`; :mod:`association.mpesa.daraja`
implements it for Safaricom Kenya's Daraja (with ``mpesakit``). Another
provider (Safaricom Ethiopia, Airtel Money) would be one more implementation.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from flask import current_app
from flask_babel import lazy_gettext as _l

from association.core.time import MPESA_ZONE
from association.errors import DomainError
from association.mpesa.settings import mpesa_settings


class ProviderError(DomainError):
    """The provider refused a request or could not be reached; nothing was paid.

    ``code`` is the provider's error code (``400.002.02``) when it sent one.
    """

    def __init__(self, message, code: str | None = None, detail: str | None = None):
        super().__init__(message, code=code, detail=detail)
        self.code = code
        self.detail = detail


class ProviderUnavailable(ProviderError):
    """The provider did not answer (timeouts, refused connections) after every retry."""


class MpesaDisabled(ProviderError):
    """M-Pesa settings are missing: the treasurer's page says which."""


@dataclass(frozen=True)
class StkAccepted:
    """The provider queued the prompt (this is not payment)."""

    checkout_request_id: str
    merchant_request_id: str | None
    customer_message: str | None = None


@dataclass(frozen=True)
class StkQueryResult:
    """What a status query says about a prompt.

    ``pending`` is True while the customer has not answered yet; otherwise
    ``result_code`` is "0" for paid and any other code for not paid.
    """

    pending: bool
    result_code: str | None = None
    result_desc: str | None = None

    @property
    def paid(self) -> bool:
        return not self.pending and self.result_code == "0"


@dataclass(frozen=True)
class AsyncAccepted:
    """An asynchronous request (Transaction Status) was accepted; the result comes later."""

    conversation_id: str | None
    originator_conversation_id: str | None
    raw: dict = field(default_factory=dict)


class PaymentProvider(Protocol):
    """What the app asks of a mobile-money API."""

    def stk_push(self, *, phone: str, amount: int, account_reference: str, description: str,
                 callback_url: str) -> StkAccepted: ...

    def stk_query(self, checkout_request_id: str) -> StkQueryResult: ...

    def register_c2b_urls(self, *, confirmation_url: str, validation_url: str) -> dict: ...

    def transaction_status(self, *, receipt_code: str, result_url: str,
                           timeout_url: str) -> AsyncAccepted: ...


# --- Configuration ---------------------------------------------------------

REQUIRED = ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET", "MPESA_SHORTCODE", "MPESA_PASSKEY",
            "MPESA_CALLBACK_TOKEN", "PUBLIC_BASE_URL")

#: Safaricom's published callback source addresses (Daraja "Getting Started").
SAFARICOM_CALLBACK_IPS = frozenset({
    "196.201.214.200", "196.201.214.206", "196.201.214.207", "196.201.214.208",
    "196.201.213.114", "196.201.213.44",
    "196.201.212.127", "196.201.212.129", "196.201.212.136", "196.201.212.138",
    "196.201.212.69", "196.201.212.74",
})


def config_problems(config=None) -> list:
    """What is missing or wrong in the M-Pesa settings (empty: M-Pesa is usable)."""
    config = config if config is not None else mpesa_settings()
    problems = []
    missing = [name for name in REQUIRED if not config.get(name)]
    if missing:
        problems.append(_l("These settings are missing: %(names)s.", names=", ".join(missing)))
    if config.get("MPESA_ENV") not in ("sandbox", "production"):
        problems.append(_l("MPESA_ENV must be sandbox or production."))
    kind = config.get("MPESA_SHORTCODE_TYPE")
    if kind not in ("paybill", "till"):
        problems.append(_l("MPESA_SHORTCODE_TYPE must be paybill or till."))
    elif kind == "till" and not config.get("MPESA_TILL_NUMBER"):
        problems.append(_l("A till also needs MPESA_TILL_NUMBER."))
    token = config.get("MPESA_CALLBACK_TOKEN") or ""
    if token and len(token) < 20:
        problems.append(_l("MPESA_CALLBACK_TOKEN must be a long random secret "
                           "(at least 20 characters)."))
    return problems


def is_enabled(config=None) -> bool:
    return not config_problems(config)


def status_query_enabled(config=None) -> bool:
    """Whether the credentials allow Transaction Status queries (confirming paybill money)."""
    config = config if config is not None else mpesa_settings()
    return bool(config.get("MPESA_INITIATOR_NAME") and config.get("MPESA_SECURITY_CREDENTIAL"))


def allowed_callback_ips(config=None) -> frozenset[str] | None:
    """The callback source addresses to accept, or None for any."""
    config = config if config is not None else mpesa_settings()
    raw = (config.get("MPESA_ALLOWED_IPS") or "").strip()
    if raw == "*":
        return None
    if raw:
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
    return SAFARICOM_CALLBACK_IPS if config.get("MPESA_ENV") == "production" else None


def our_shortcodes(config=None) -> set[str]:
    """The numbers money may arrive at: the shortcode (paybill or store) and a till."""
    config = config if config is not None else mpesa_settings()
    return {str(v) for v in (config.get("MPESA_SHORTCODE"), config.get("MPESA_TILL_NUMBER")) if v}


def get_provider(app=None) -> PaymentProvider:
    """The provider for the association chosen (its own credentials, else the install's),
    one per set of credentials and app (its token cache is shared by every request).

    Raises:
        MpesaDisabled: settings are missing.
    """
    app = app or current_app._get_current_object()
    settings = mpesa_settings()
    problems = config_problems(settings)
    if problems:
        raise MpesaDisabled(_l("M-Pesa is not set up: %(problems)s",
                               problems=" ".join(str(p) for p in problems)))
    key = tuple(settings[name] for name in sorted(settings))
    providers = app.extensions.setdefault("mpesa_provider", {})
    provider = providers.get(key)
    if provider is None:
        from association.mpesa.daraja import DarajaProvider

        provider = providers[key] = DarajaProvider.from_config(settings)
    return provider


def nairobi_timestamp(moment: datetime | None = None) -> str:
    """Daraja's Timestamp: YYYYMMDDHHmmss in Nairobi time (UTC servers get "Wrong credentials")."""
    return (moment or datetime.now(MPESA_ZONE)).astimezone(MPESA_ZONE).strftime("%Y%m%d%H%M%S")
