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
