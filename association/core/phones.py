"""Phone numbers: parsed and validated with ``phonenumbers``, stored as E.164."""

from functools import lru_cache

import phonenumbers
from flask_babel import lazy_gettext as _l

from association.errors import DomainError
from config import Config

#: Where numbers written without a country code are from: the DEFAULT_PHONE_REGION setting.
DEFAULT_REGION = Config.DEFAULT_PHONE_REGION


class InvalidPhoneError(DomainError):
    """Not a phone number we can call or pay from."""


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as E.164 (``+254712345678``); Kenyan 07.. and 01.. by default.

    Raises:
        InvalidPhoneError: when it is not a valid number.
    """
    text = (raw or "").strip()
    if not text or len(text) > 30:
        raise InvalidPhoneError(_l("Enter a phone number such as 0712 345 678."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneError(
            _l("%(phone)s is not a phone number. Use a number such as 0712 345 678.", phone=text)
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(
            _l("%(phone)s is not a valid phone number. Use a number such as 0712 345 678.",
               phone=text)
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(text: str) -> bool:
    """Whether a login or search term is meant as a phone number."""
    digits = "".join(c for c in text if c not in " -()").lstrip("+")
    return digits.isdigit() and len(digits) >= 9


@lru_cache(maxsize=65536)  # a pure function of the text; lists show dozens a page
def display_phone(e164: str | None) -> str:
    """A stored number as Kenyans write it at home (0712 345 678), others internationally."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
