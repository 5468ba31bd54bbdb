"""Money at the edges: typed text and machine numbers to integer cents, cents to
"KES 1,500.00". The currency is the ``CURRENCY`` setting, read once here."""

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

from association.errors import DomainError
from config import Config

#: The one currency of the books.
CURRENCY = Config.CURRENCY

#: The largest single amount accepted anywhere (KES 100 million): typos, not wealth.
MAX_CENTS = 100_000_000 * 100
_AMOUNT_RE = re.compile(r"^(\d+)(?:\.(\d+))?$")
#: Commas are allowed only as thousands separators: "1,500" yes, "1,2,3" no.
_GROUPED_RE = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")


class AmountError(DomainError):
    """Not an amount of money we can record."""


def to_cents(text, *, allow_zero: bool = False) -> int:
    """Parse typed shillings ("1,500", "1500.5", "KES 50") into cents.

    The one place where typed money is read: every form, import and command uses it.

    Args:
        allow_zero: accept 0 (a waiver that waives everything); otherwise it is refused.

    Raises:
        AmountError: empty, negative, zero, non-numeric, misplaced commas, more than
            two decimal places, or too large to be right.
    """
    raw = str(text if text is not None else "").strip()
    if raw.upper().startswith(CURRENCY):
        raw = raw[len(CURRENCY):].strip()
    raw = raw.replace(" ", "")
    if not raw:
        raise AmountError(_l("Enter an amount."))
    if raw.startswith("-"):
        raise AmountError(_l("The amount cannot be negative.") if allow_zero
                          else _l("The amount must be more than zero."))
    if "," in raw:
        if not _GROUPED_RE.match(raw):
            raise AmountError(_l("%(value)s is not an amount. Write it like 1500 or 1500.50.",
                                 value=str(text).strip()[:30]))
        raw = raw.replace(",", "")
    match = _AMOUNT_RE.match(raw)
    if match is None:
        raise AmountError(_l("%(value)s is not an amount. Write it like 1500 or 1500.50.",
                             value=str(text).strip()[:30]))
    shillings, decimals = match.groups()
    decimals = decimals or ""
    if len(decimals.rstrip("0")) > 2:
        raise AmountError(_l("Amounts have at most two decimal places (cents)."))
    shillings = shillings.lstrip("0") or "0"
    if len(shillings) > len(str(MAX_CENTS // 100)):
        raise AmountError(_l("That amount is too large to be right."))
    value = int(shillings) * 100 + int(decimals[:2].ljust(2, "0"))
    if value == 0 and not allow_zero:
        raise AmountError(_l("The amount must be more than zero."))
    if value > MAX_CENTS:
        raise AmountError(_l("That amount is too large to be right."))
    return value


def format_kes(cents: int | None, currency: str = CURRENCY, *, grouped: bool = True,
               whole: bool = False) -> str:
    """Cents as text, exactly: 123456 -> "KES 1,234.56". The one place money is written.

    The sign comes first: -12345 -> "-KES 123.45" (or "-123.45"). None -> "".

    Args:
        currency: written before the amount, with a space; "" for the number alone.
        grouped: thousands separated by commas; False for the files hledger, beancount
            and spreadsheets read ("1234.56").
        whole: leave off ".00" when there are no cents ("1,500", as a form shows it).
    """
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    shillings, rest = divmod(abs(int(cents)), 100)
    number = f"{shillings:,}" if grouped else str(shillings)
    if rest or not whole:
        number += f".{rest:02d}"
    return f"{sign}{currency} {number}" if currency else f"{sign}{number}"


def exact_cents(value) -> int | None:
    """A machine number (int, float, Decimal, or its text; commas ignored) as whole cents;
    None when it is no finite number or has a fraction of a cent. Its sign is kept."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    cents = amount * 100
    if cents != cents.to_integral_value():
        return None
    return int(cents)


def parse_cents(value) -> int | None:
    """"50.00", 50, 50.0 or "1,500" -> cents; None when not a positive amount of money
    (no more than :data:`MAX_CENTS`): how amounts sent by a machine (Daraja) are read."""
    cents = exact_cents(value)
    return cents if cents is not None and 0 < cents <= MAX_CENTS else None
