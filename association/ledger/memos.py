"""The memos the app writes on journal entries, read in the reader's language.

A posted entry is never changed, so its memo stays the record's English ("cash payment from
MLK-0008", "Dues for 2026-11"); screens and PDFs show it translated, recognised here by its
pattern, with the values it holds (codes, numbers, what a person typed) kept as they are.
A memo that matches none (an older wording) is shown as stored.
"""

import re

from flask_babel import lazy_gettext as _l

from association.core import stored_text

#: (pattern of the stored English memo, its message). Named groups fill the message; a
#: group named ``month`` (YYYY-MM) is shown the Kenyan way.
_MEMOS = (
    (re.compile(r"^cash payment from (?P<member>\S+)$"), _l("Cash payment from %(member)s")),
    (re.compile(r"^mpesa payment from (?P<member>\S+)$"), _l("M-Pesa payment from %(member)s")),
    (re.compile(r"^bank payment from (?P<member>\S+)$"), _l("Bank payment from %(member)s")),
    (re.compile(r"^Dues for (?P<month>\d{4}-\d{2})$"), _l("Dues for %(month)s")),
    (re.compile(r"^Member credit applied to dues$"), _l("Credit applied to dues")),
    (re.compile(r"^Credit withdrawn after a voided receipt$"),
     _l("Credit withdrawn after a voided receipt")),
    (re.compile(r"^Unidentified M-Pesa receipt (?P<code>\S+)$"),
     _l("Unidentified M-Pesa receipt %(code)s")),
    (re.compile(r"^M-Pesa receipt (?P<code>\S+) identified: to (?P<member>\S+)$"),
     _l("M-Pesa receipt %(code)s identified: to %(member)s")),
    (re.compile(r"^Refund of M-Pesa receipt (?P<code>\S+) sent \((?P<refund>[^)]*)\)$"),
     _l("Refund of M-Pesa receipt %(code)s sent (%(refund)s)")),
    (re.compile(r"^Assignment of M-Pesa receipt (?P<code>\S+) undone$"),
     _l("Assignment of M-Pesa receipt %(code)s undone")),
    (re.compile(r"^Void of receipt (?P<number>\S+): (?P<reason>.*)$", re.S),
     _l("Void of receipt %(number)s: %(reason)s")),
    (re.compile(r"^Reversal of (?P<ref>EXP-\d+): (?P<reason>.*)$", re.S),
     _l("Reversal of %(ref)s: %(reason)s")),
)


def describe(memo: str | None) -> str:
    """The stored memo in the reader's language."""
    return stored_text.describe(memo, _MEMOS)
