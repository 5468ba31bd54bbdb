"""CSV and XLSX: uploads read and staged the same way by every import, and
spreadsheet safety for every export (nothing we write runs as a formula)."""

import re

#: A cell starting with one of these is run as a formula by Excel and LibreOffice.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"^\+\d{6,15}$")


def formula_safe(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe.

    A phone number in E.164 (``+`` and digits only) is left alone: it cannot be a
    formula, and the apostrophe would spoil it.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _E164.match(value):
        return "'" + value
    return value
