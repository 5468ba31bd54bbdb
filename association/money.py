"""Money at the edges: typed text to integer cents, and cents to "KES 1,500.00"."""

import re

from flask_babel import lazy_gettext as _l

from association.errors import DomainError

#: The largest single amount accepted anywhere (KES 100 million): typos, not wealth.
MAX_CENTS = 100_000_000 * 100
_AMOUNT_RE = re.compile(r"^(\d{1,12})(?:\.(\d{1,2}))?$")


class AmountError(DomainError):
    """Not an amount of money we can record."""


def to_cents(text) -> int:
    """Parse "1,500", "1500.5" or "50" (shillings) into cents; at most 2 decimal places.

    Raises:
        AmountError: empty, negative, zero, non-numeric, too precise or too large.
    """
    raw = str(text if text is not None else "").strip().replace(",", "").replace(" ", "")
    if raw.upper().startswith("KES"):
        raw = raw[3:]
    if not raw:
        raise AmountError(_l("Enter an amount."))
    if raw.startswith("-"):
        raise AmountError(_l("The amount must be more than zero."))
    match = _AMOUNT_RE.match(raw)
    if match is None:
        if re.match(r"^\d+\.\d{3,}$", raw):
            raise AmountError(_l("Amounts have at most two decimal places (cents)."))
        raise AmountError(_l("%(value)s is not an amount. Write it like 1500 or 1500.50.",
                             value=str(text)[:30]))
    shillings, cents = match.groups()
    value = int(shillings) * 100 + int((cents or "0").ljust(2, "0"))
    if value <= 0:
        raise AmountError(_l("The amount must be more than zero."))
    if value > MAX_CENTS:
        raise AmountError(_l("That amount is too large to be right."))
    return value


def format_kes(cents: int | None, currency: str = "KES") -> str:
    """12345 -> "KES 123.45"; negative amounts keep their sign."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    shillings, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{currency} {shillings:,}.{rest:02d}"
