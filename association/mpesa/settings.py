"""Each association's M-Pesa settings: its paybill or till, its Daraja credentials and its
callback token, kept in the catalogue (the credentials encrypted: see
:mod:`association.hosting.secrets`).

:func:`mpesa_settings` is the one place the app reads them: the chosen association's own
values, and for any value it does not set, the install-wide ``MPESA_*`` setting (the
sandbox and development defaults, or one paybill for an install serving one association).
What stays install-wide: ``MPESA_ENV``, ``MPESA_BASE_URL``, ``MPESA_ALLOWED_IPS`` and the
HTTP timeouts. With no association chosen (the host's own pages and commands), the
install-wide settings alone.
"""

import hmac
import logging
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app

from association.database import reading
from association.hosting import catalogue
from association.hosting.models import HostedAssociation
from association.hosting.secrets import SecretsUnreadable, token_hash, unseal
from association.hosting.tenancy import Tenant, catalogue_engine, current_or_none

#: The keys of an association's credentials (the JSON encrypted in the catalogue) and the
#: install-wide setting each one stands in for.
CREDENTIALS = {
    "consumer_key": "MPESA_CONSUMER_KEY",
    "consumer_secret": "MPESA_CONSUMER_SECRET",
    "passkey": "MPESA_PASSKEY",
    "shortcode_type": "MPESA_SHORTCODE_TYPE",
    "till_number": "MPESA_TILL_NUMBER",
    "initiator_name": "MPESA_INITIATOR_NAME",
    "security_credential": "MPESA_SECURITY_CREDENTIAL",
    "callback_token": "MPESA_CALLBACK_TOKEN",
}
#: Every setting :func:`mpesa_settings` gives.
NAMES = (*CREDENTIALS.values(), "MPESA_SHORTCODE", "MPESA_ENV", "MPESA_BASE_URL",
         "MPESA_ALLOWED_IPS", "MPESA_HTTP_TIMEOUT", "MPESA_HTTP_ATTEMPTS",
         "MPESA_HTTP_BACKOFF", "PUBLIC_BASE_URL")


@dataclass(frozen=True)
class OwnSettings:
    """What an association's catalogue row sets for itself (decrypted)."""

    shortcode: str | None = None
    account_prefix: str | None = None
    token_hash: str | None = None
    credentials: dict = field(default_factory=dict)
    #: Its credentials are there but the keys configured cannot decrypt them.
    unreadable: bool = False


_lock = threading.Lock()
log = logging.getLogger(__name__)


def _read_own(app: Flask, tenant: Tenant) -> OwnSettings:
    table = HostedAssociation.__table__
    with reading(), catalogue_engine(app).connect() as conn:
        row = conn.execute(sa.select(table.c.mpesa_shortcode, table.c.account_prefix,
                                     table.c.callback_token_hash, table.c.mpesa_credentials)
                           .where(table.c.id == tenant.id)).one_or_none()
    if row is None:
        return OwnSettings()
    try:
        credentials = unseal(row.mpesa_credentials) if row.mpesa_credentials else {}
    except SecretsUnreadable:
        # M-Pesa is off for it (the pay page says it is not set up) until the key is put
        # back or the credentials set again; never the install's credentials or token.
        log.error("%s: its M-Pesa credentials cannot be decrypted with HOSTING_SECRETS_KEY",
                  tenant.short)
        return OwnSettings(shortcode=row.mpesa_shortcode, account_prefix=row.account_prefix,
                           token_hash=row.callback_token_hash, unreadable=True)
    if credentials.get("callback_token"):
        _redact(credentials["callback_token"])
    return OwnSettings(shortcode=row.mpesa_shortcode, account_prefix=row.account_prefix,
                       token_hash=row.callback_token_hash,
                       credentials={k: v for k, v in credentials.items()
                                    if k in CREDENTIALS and v})


def own_settings(tenant: Tenant, app: Flask | None = None) -> OwnSettings:
    """``tenant``'s own settings, read once per reading of the catalogue (a change made
    with ``hosting mpesa-set`` reaches every process within CATALOGUE_CACHE_SECONDS)."""
    app = app or current_app._get_current_object()
    directory = catalogue.directory(app)
    cached_directory, cache = app.extensions.get("mpesa_own_settings", (None, {}))
    if cached_directory is not directory:
        cache = {}
        app.extensions["mpesa_own_settings"] = (directory, cache)
    own = cache.get(tenant.id)
    if own is None:
        with _lock:
            own = cache[tenant.id] = _read_own(app, tenant)
    return own


def mpesa_settings(tenant: Tenant | None = None) -> dict:
    """The M-Pesa settings of ``tenant`` (by default the association chosen): its own,
    else the install-wide ones."""
    config = current_app.config
    values = {name: config.get(name) for name in NAMES}
    tenant = tenant or current_or_none()
    if tenant is None:
        return values
    own = own_settings(tenant)
    if own.shortcode:
        values["MPESA_SHORTCODE"] = own.shortcode
    for key, value in own.credentials.items():
        values[CREDENTIALS[key]] = value
    if own.unreadable:
        for name in CREDENTIALS.values():
            values[name] = None
    return values


def token_ok(token: str, tenant: Tenant | None = None) -> bool:
    """Whether ``token`` is the callback token of ``tenant`` (by default the association
    chosen; compared in constant time): its own when it has one, else the install's."""
    tenant = tenant or current_or_none()
    own = own_settings(tenant) if tenant is not None else OwnSettings()
    if own.token_hash:
        ok = hmac.compare_digest(token_hash(token), own.token_hash)
    else:
        expected = current_app.config.get("MPESA_CALLBACK_TOKEN") or ""
        ok = bool(expected) and hmac.compare_digest(token.encode(), expected.encode())
    if ok:
        _redact(token)
    return ok


def host_token_ok(token: str) -> bool:
    """Whether ``token`` is the host's own callback token (MPESA_CALLBACK_TOKEN): the
    addresses of a paybill several associations share."""
    expected = current_app.config.get("MPESA_CALLBACK_TOKEN") or ""
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def _redact(token: str) -> None:
    """An association's token is in its callback addresses: never written to a log."""
    from association.logging import _SECRETS

    if len(token) >= 8:
        _SECRETS.add(token)


def sharing(tenant: Tenant) -> list[Tenant]:
    """The associations (``tenant`` among them) using ``tenant``'s paybill, when it has
    one of its own; just ``tenant`` otherwise."""
    if not tenant.mpesa_shortcode:
        return [tenant]
    return [t for t in catalogue.served() if t.mpesa_shortcode == tenant.mpesa_shortcode]
