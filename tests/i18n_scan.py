"""What must never be read on a Kiswahili page: English words of the app's own interface,
and dates written the ISO or the American way (or in numbers only) instead of the Kenyan
one ("30 Nov 2026", "Nov 2026", 23:07).

Shared by the page and PDF crawl (tests/test_swahili_pages.py) and the browser sweep.
The words are the app's English UI vocabulary, chosen so that none is also a Swahili word,
a proper noun or a code the Swahili pages keep (M-Pesa, KES, SMS, USSD, PDF, CSV, OB): a
hit is a string that was not translated. Month abbreviations Swahili shares with English
(Jan, Feb, Apr, Jun, Jul, Sep, Nov) are not listed; those that differ (Mar, May, Aug, Oct,
Dec: Swahili writes Mac, Mei, Ago, Okt, Des) are.
"""

import re
from html.parser import HTMLParser

#: English words of the interface that a Kiswahili page must not show.
ENGLISH_WORDS = (
    # money
    "Balance", "Paid", "Due", "Owes", "Owed", "Owing", "credit", "Amount", "Receipt",
    "Receipts", "Payment", "Payments", "Expense", "Expenses", "Statement", "Arrears",
    "Dues", "Charged", "Waived", "Waiver", "Refund", "Total", "Cash", "Income",
    "Expenditure", "Treasurer", "Suspense", "Void", "Voided",
    # states and actions
    "Open", "Closed", "Close", "Present", "Absent", "Print", "Publish", "Published",
    "Draft", "Pending", "Approved", "Rejected", "Confirmed", "Cancelled", "Submit", "Save",
    "Cancel", "Search", "Download", "Edit", "Delete", "Record", "Approve", "Reject",
    "Send", "Sent", "Failed", "Success", "Successful", "Status", "Yes", "No",
    # people, places, time
    "Member", "Members", "Month", "Months", "Date", "Week", "Today", "Tonight",
    "Yesterday", "Tomorrow", "Shift", "Shifts", "Meeting", "Meetings", "Minutes",
    "Agenda", "arising", "Attendance", "Roster", "Patrol", "Patrols", "Incident", "Incidents",
    "Phone", "Name", "Reference", "Account", "Description", "Consent", "Report",
    "Reports", "Secretary", "Chairperson", "Coordinator", "Auditor",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
    "Mar", "Aug", "Oct", "Dec",
    "AM", "PM",
)

_WORDS = re.compile(r"(?<![\w-])(" + "|".join(ENGLISH_WORDS) + r")(?![\w-])", re.IGNORECASE)
#: Words matched in any case but these, which a Swahili sentence may hold in lower case
#: as something else or only as part of a name: matched only as written above.
_CASE_SENSITIVE = {"Mar", "Aug", "Oct", "Dec", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                   "Sun", "AM", "PM", "No", "May", "Date", "Close", "Record", "Void"}
_LOOKUP = {word.lower(): word for word in ENGLISH_WORDS}

#: 2026-11-30, 2026-11 (not a longer number, nor part of a time stamp's code).
_ISO_DATE = re.compile(r"(?<![\w-])(\d{4}-\d{2}-\d{2})(?![\w-])")
_ISO_MONTH = re.compile(r"(?<![\w-])((?:19|20)\d{2}-(?:0[1-9]|1[0-2]))(?![\w-])")
#: 11/30/2026, 11/30/26, and any date written in numbers only (12/7/2026): a phone set to
#: US English and a Kenyan reader take 12/7 for different days; people read "7 Dec 2026".
_US_DATE = re.compile(r"(?<![\w/])(\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))(?![\w/])")
#: 11:07 PM, 9:30am, 11 PM.
_TWELVE_HOUR = re.compile(r"(?<![\w:])(\d{1,2}(?::\d{2})?\s?[AaPp]\.?[Mm]\.?)(?!\w)")


def english_in(text: str) -> list[str]:
    """The English interface words in ``text``, in order, each as written."""
    found = []
    for match in _WORDS.finditer(text):
        word = match.group(1)
        listed = _LOOKUP[word.lower()]
        if listed in _CASE_SENSITIVE and word != listed:
            continue
        found.append(word)
    return found


def bad_dates_in(text: str) -> list[str]:
    """ISO dates and months, dates in numbers only (US or not) and 12-hour times in ``text``."""
    found = []
    for pattern in (_ISO_DATE, _ISO_MONTH, _US_DATE, _TWELVE_HOUR):
        found.extend(m.group(1) for m in pattern.finditer(text))
    return found


# --- A page's text, without what people typed --------------------------------------------

#: Text the app (or M-Pesa) writes and stores in English, to be shown in the reader's
#: language at display: never taken out.
APP_WRITTEN = {("journal_entry", "memo"), ("audit_event", "action"), ("account", "name"),
               ("member_consent", "wording"), ("mpesa_stk_request", "result_desc"),
               ("mpesa_transaction", "note"), ("mpesa_callback_inbox", "outcome"),
               ("mpesa_callback_inbox", "error"), ("mpesa_settings", "c2b_register_result"),
               ("patrol_swap", "problems"), ("officials_notice", "summary"),
               ("dues_rate", "resolution_ref")}
#: Typed values of one word that are taken out too: logins, and who does an action item.
ONE_WORD = {("user", "username"), ("action_item", "owner")}
#: Column names a member list may carry, quoted on the import page as files spell them.
FILE_HEADERS = ("First name", "Other names")


class PageText(HTMLParser):
    """The text a person reads on a page (and its links), plus the titles, placeholders and
    labels of inputs and buttons; not scripts or styles, nor what the page marks as not to
    be translated: code (the wire formats of M-Pesa messages, the audit trail's record
    names and stored values) and elements with ``translate="no"``."""

    HIDDEN = {"script", "style", "code", "samp", "kbd"}

    def __init__(self):
        super().__init__()
        self.parts, self.links, self._hidden = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN or attrs.get("translate") == "no":
            self._hidden.append(tag)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in ("title", "placeholder", "aria-label", "alt"):
            # A month or date field's placeholder is the format browsers without a picker
            # send (2026-03), not text to read.
            if name == "placeholder" and attrs.get("type") in ("month", "date"):
                continue
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def typed_text() -> list[str]:
    """Every free text people typed (values with a space in the string columns, enums
    aside), longest first, so that it can be taken out of a page before the scan. Needs
    an app context on the database the pages come from."""
    import sqlalchemy as sa

    from association.extensions import db

    values = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in APP_WRITTEN or isinstance(column.type, sa.Enum):
                continue
            if not isinstance(column.type, sa.String | sa.Text):
                continue
            query = sa.select(column).where(column.is_not(None)).distinct()
            if table.name == "agenda_item":  # matters arising are written by the app
                query = query.where(table.c.carried_action_id.is_(None))
            for value in db.session.scalars(query):
                if isinstance(value, str) and (" " in value.strip()
                                               or (table.name, column.name) in ONE_WORD):
                    values.add(" ".join(value.split()))
    return sorted(values, key=len, reverse=True)


def without_typed(text: str, typed: list[str]) -> str:
    """``text`` without what people typed, whole or cut short with "…" (select options)."""
    text = " ".join(text.split())
    for header in FILE_HEADERS:
        text = text.replace(header, " ")
    for value in typed:
        text = text.replace(value, " ")
        if len(value) > 30:
            text = re.sub(re.escape(value[:30]) + r"[^…]*…", " ", text)
    return text


def page_slips(html: str, language: str, typed: list[str]) -> list[str]:
    """What a person would read wrong on a page: ISO or US dates in either language, and
    English interface words on a Kiswahili page (what people typed taken out first)."""
    parser = PageText()
    parser.feed(html)
    text = without_typed(" ".join(parser.parts), typed)
    return (english_in(text) if language == "sw" else []) + bad_dates_in(text)
