"""English the app stores (journal memos, M-Pesa notes), read in the reader's language.

A stored record is never changed, so its text stays the record's English; screens and PDFs
show it translated, recognised by its pattern, with the values it holds (codes, numbers,
what a person typed) kept as they are. Text that matches no pattern (an older wording, or
what a person typed) is shown as stored.
"""

import re
from datetime import date

from association.core import dates

#: (pattern of the stored English, its message): named groups fill the message; a group
#: named ``month`` (YYYY-MM) is shown the Kenyan way ("Nov 2026").
Patterns = tuple[tuple[re.Pattern, object], ...]


def describe(text: str | None, patterns: Patterns) -> str:
    """``text`` in the reader's language, by the first of ``patterns`` it matches."""
    if not text:
        return ""
    for pattern, message in patterns:
        match = pattern.match(text)
        if match:
            values = match.groupdict()
            if "month" in values:
                values["month"] = dates.month(date.fromisoformat(values["month"] + "-01"))
            return str(message) % values
    return text
