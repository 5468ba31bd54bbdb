"""The notes the app writes on M-Pesa transactions, read in the reader's language.

The stored note is the record's English ("Daraja could not confirm this receipt (2001: The
initiator information is invalid.)"); the M-Pesa desk and the suspense queue show it in
plain words in the page's language, recognised here by its pattern. Safaricom's own English
description is left out: the result code stays, for the Safaricom help desk. A note that
matches none (what a treasurer typed) is shown as stored.
"""

import re

from flask_babel import lazy_gettext as _l

from association.core import stored_text

_NOTES = (
    (re.compile(r"^Daraja could not confirm this receipt \((?P<code>[^:]*):.*$", re.S),
     _l("M-Pesa could not confirm this payment (code %(code)s): check it in the M-Pesa "
        "statement before you decide.")),
    (re.compile(r"^Daraja confirms another amount for this receipt: not credited\.$"),
     _l("M-Pesa confirms another amount for this payment: not credited.")),
    (re.compile(r"^Confirmed by the imported M-Pesa statement\.$"),
     _l("Confirmed by the imported M-Pesa statement.")),
    (re.compile(r"^Confirmed by a pasted M-Pesa SMS\.$"), _l("Confirmed by a pasted M-Pesa SMS.")),
    (re.compile(r"^The amount \((?P<paid>[^)]*)\) differs from the request \((?P<asked>[^)]*)\)"
                r": not credited\.$"),
     _l("The amount paid (%(paid)s) differs from the amount asked (%(asked)s): not credited.")),
    (re.compile(r"^Not yet confirmed with Daraja: .*$", re.S),
     _l("Not yet confirmed by M-Pesa: the app asks again on its own.")),
    (re.compile(r"^Daraja says the payment is still being processed\.$"),
     _l("M-Pesa says the payment is still being processed.")),
    (re.compile(r"^Daraja says this prompt was not paid \((?P<code>[^)]*)\)\.$"),
     _l("M-Pesa says this payment prompt was not paid (code %(code)s).")),
    (re.compile(r"^A second callback for this receipt gave another amount\.$"),
     _l("M-Pesa sent this payment twice with different amounts.")),
    (re.compile(r"^Paid to (?P<shortcode>\S+), not to our shortcode\.$"),
     _l("Paid to %(shortcode)s, not to the association's paybill or till number.")),
    (re.compile(r"^Waiting for Daraja's Transaction Status answer\.$"),
     _l("Waiting for M-Pesa to confirm the payment.")),
    (re.compile(r"^No STK request had this CheckoutRequestID\.$"),
     _l("M-Pesa reported a payment prompt this app did not send.")),
)


def describe(note: str | None) -> str:
    """The stored note in the reader's language."""
    return stored_text.describe(note, _NOTES)
