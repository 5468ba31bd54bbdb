"""Secrets kept in the catalogue (an association's Daraja credentials), encrypted at rest.

Encrypted as the second factor's secrets are (Fernet, :mod:`association.auth.second_factor`)
with ``HOSTING_SECRETS_KEY`` from the environment: comma-separated keys, the first
encrypting, the others still decrypting (rotation). Unset, a key derived from
SECRET_KEY (changing SECRET_KEY then makes the stored credentials unreadable: they are
set again with ``hosting mpesa-set``). A copy of the catalogue, a backup or a role that
can read its rows holds only ciphertext.
"""

import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from association.auth.second_factor import _fernet_key
from association.errors import DomainError


class SecretsUnreadable(DomainError):
    """The stored credentials cannot be decrypted with the keys configured."""


def _cipher() -> MultiFernet:
    config = current_app.config
    keys = [k.strip() for k in (config.get("HOSTING_SECRETS_KEY") or "").split(",")
            if k.strip()]
    if not keys:  # derived, so that the key differs from SECRET_KEY itself
        keys = ["hosting-secrets:" + config["SECRET_KEY"]]
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def seal(values: dict) -> str:
    """``values`` as JSON, encrypted."""
    return _cipher().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def unseal(token: str) -> dict:
    """What :func:`seal` encrypted.

    Raises:
        SecretsUnreadable: the keys configured cannot decrypt it.
    """
    try:
        return json.loads(_cipher().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable(_l(
            "The association's M-Pesa credentials cannot be read with the keys configured "
            "(HOSTING_SECRETS_KEY changed): set them again.")) from None


def token_hash(token: str) -> str:
    """The SHA-256 of a callback token, as the catalogue keeps it."""
    return hashlib.sha256(token.encode()).hexdigest()
