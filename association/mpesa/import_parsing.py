"""Reading an M-Pesa import: pasted confirmation SMS and uploaded statements.

:func:`parse_sms` reads the messages the association's line received, and
:func:`parse_statement` the M-PESA org portal's statement (CSV or Excel), each into a
:class:`Parsed` import: the payments received (:class:`ImportedTx`, one per receipt
code, times as naive UTC) and the lines or rows skipped, with the reason
(:data:`SKIP_REASONS`). Nothing is written here; :mod:`association.mpesa.imports`
keeps, previews and confirms what was read.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask_babel import lazy_gettext as _l

from association.core.money import AmountError, exact_cents, to_cents
from association.core.tabular import ReadErrors, csv_rows, xlsx_rows
from association.core.time import MPESA_ZONE, NAIROBI, to_utc, utcnow
from association.errors import DomainError
from association.ledger.payments import normalise_mpesa_code
from association.mpesa.matching import MAX_REFERENCE
from association.mpesa.models import TransactionSource

#: The most pasted text read at once (about 1,000 messages).
MAX_SMS_CHARS = 200_000
#: The most statement rows read (a busy paybill's year is about 10,000).
MAX_STATEMENT_ROWS = 50_000
MAX_COLUMNS = 60
#: Header rows may follow a preamble (organisation name, period...): look this far.
HEADER_SEARCH_ROWS = 30
#: M-Pesa launched in March 2007: an earlier date is a misread.
EARLIEST = datetime(2007, 3, 1)
CODE_RE = re.compile(r"^[A-Z0-9]{8,12}$")


class ImportFileError(DomainError):
    """The pasted text or the file cannot be read as M-Pesa transactions at all."""


# --- What an import holds ------------------------------------------------------------

#: Why a line or row was not taken as a payment received (key -> message).
SKIP_REASONS = {
    "not_received": _l("Not money received (money sent, paid, withdrawn or a reversal)."),
    "payer_message": _l("This is the payer's own message. Paste the confirmation the "
                        "association's line received, or import the statement."),
    "no_amount": _l("No amount could be read."),
    "no_date": _l("No date and time could be read."),
    "bad_date": _l("The date is impossible or in the future."),
    "bad_code": _l("No M-Pesa receipt code could be read."),
    "duplicate": _l("The same receipt code appears earlier in this import."),
    "not_completed": _l("Not completed (failed, cancelled or pending)."),
    "money_out": _l("Money out or a charge."),
    "internal": _l("Not a customer payment (a transfer, settlement, charge or reversal)."),
}


@dataclass
class ImportedTx:
    """One payment read from an SMS or a statement row."""

    receipt_code: str
    amount_cents: int
    #: Naive UTC, as stored.
    transacted_at: datetime
    account_reference: str | None = None
    #: E.164 when the number is shown in full; masked numbers are kept only as shown.
    phone: str | None = None
    phone_shown: str | None = None
    payer_name: str | None = None
    #: Where it was read: the message number or the file's row number.
    line: int = 0

    def to_json(self) -> dict:
        return {"receipt_code": self.receipt_code, "amount_cents": self.amount_cents,
                "transacted_at": self.transacted_at.isoformat(),
                "account_reference": self.account_reference, "phone": self.phone,
                "phone_shown": self.phone_shown, "payer_name": self.payer_name,
                "line": self.line}

    @property
    def local_time(self) -> str:
        """When, in Nairobi, as Kenyans write it (21/11/2026 19:45)."""
        return self.transacted_at.replace(tzinfo=UTC).astimezone(NAIROBI).strftime(
            "%d/%m/%Y %H:%M")

    @classmethod
    def from_json(cls, data: dict) -> "ImportedTx":
        data = dict(data)
        data["transacted_at"] = datetime.fromisoformat(data["transacted_at"])
        return cls(**data)


@dataclass
class Skipped:
    line: int
    text: str
    reason: str

    @property
    def message(self):
        return SKIP_REASONS.get(self.reason, self.reason)


@dataclass
class Parsed:
    kind: TransactionSource
    items: list[ImportedTx] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    filename: str | None = None
    seen: set = field(default_factory=set, repr=False)

    def add(self, tx: ImportedTx) -> None:
        """Keep a payment, unless its receipt code came earlier in the same import."""
        if tx.receipt_code in self.seen:
            self.skipped.append(Skipped(tx.line, tx.receipt_code, "duplicate"))
        else:
            self.items.append(tx)
            self.seen.add(tx.receipt_code)


def _check_moment(moment: datetime | None) -> str | None:
    """The skip reason for an impossible time, else None."""
    if moment is None:
        return "no_date"
    if moment < EARLIEST or moment > utcnow() + timedelta(hours=12):
        return "bad_date"
    return None


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Pasted SMS ------------------------------------------------------------------------

#: The start of each message: its receipt code, then "Confirmed".
_SMS_START = re.compile(r"(?<![A-Za-z0-9])([A-Z0-9]{8,12})\s*Confirmed\b", re.I)
_SMS_AMOUNT = re.compile(r"Ksh\.?\s?([\d,]+(?:\.\d{1,2})?)", re.I)
_SMS_WHEN = re.compile(
    r"\bon\s+(\d{1,2})/(\d{1,2})/(\d{2,4})\s+at\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]\.?M\.?)?",
    re.I)
_SMS_PHONE = re.compile(r"(?<!\d)((?:\+?254|0)[17][\dXx*]{8})(?!\d)")
_SMS_ACCOUNT = re.compile(
    r"(?:\bAccount\s+(?:Number|No\.?)|\bfor\s+account|\bAcc\.|\bAcc\s+No\.?|"
    r"\bA/C(?:\s+No\.?)?)\s*[:.]?\s*(?!balance)"
    r"(.+?)(?=\s+New\s|\s+on\s+\d{1,2}/|\.\s|\.?$|\s+Transaction\s+cost)", re.I)
_SMS_FROM = re.compile(
    r"\bfrom\s+(.+?)(?=\s+on\s+\d{1,2}/|\.\s*New\s|\s+New\s|\.\s*Account\s|\s+Account\s|"
    r"\s+for\s+account|\.\s*$|$)", re.I)
_SMS_OUT_WORDS = re.compile(
    r"\b(sent to|paid to|withdraw|Give Ksh|bought|transferred to|reversal|reversed|"
    r"you have transferred)\b", re.I)


def _sms_moment(match: re.Match) -> datetime | None:
    day, month, year, hour, minute, second, half = match.groups()
    year = int(year)
    if year < 100:
        year += 2000
    hour = int(hour)
    if half:
        half = half.replace(".", "").upper()
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "PM" else 0)
    try:
        local = datetime(year, int(month), int(day), hour, int(minute), int(second or 0))
    except ValueError:
        return None
    return to_utc(local, MPESA_ZONE)


def _payer(segment: str) -> tuple[str | None, str | None, str | None]:
    """(E.164 phone, phone as shown, name) from the text after "from"."""
    from association.mpesa.matching import payer_phone

    phone_match = _SMS_PHONE.search(segment)
    shown = phone_match.group(1) if phone_match else None
    name = segment
    if phone_match:
        name = (segment[: phone_match.start()] + " " + segment[phone_match.end():])
    name = " ".join(name.replace("-", " ").split()).strip(" .,")
    return (payer_phone(shown) if shown else None), shown, (name[:120] or None)


def _one_sms(number: int, code: str, body: str) -> ImportedTx | str:
    """One message (from its code to the next): the payment, or a skip reason."""
    text = " ".join(body.split())
    if _SMS_OUT_WORDS.search(text):
        if re.search(r"\b(sent to|paid to)\b", text, re.I):
            return "payer_message"
        return "not_received"
    if not re.search(r"\breceived\b", text, re.I):
        return "not_received"
    amount = _SMS_AMOUNT.search(text)
    if amount is None:
        return "no_amount"
    try:
        cents = to_cents(amount.group(1))
    except AmountError:
        return "no_amount"
    when = _SMS_WHEN.search(text)
    moment = _sms_moment(when) if when else None
    if when is None:
        return "no_date"
    reason = "bad_date" if moment is None else _check_moment(moment)
    if reason:
        return reason
    phone = shown = name = None
    sender = _SMS_FROM.search(text)
    if sender:
        phone, shown, name = _payer(sender.group(1))
    account = _SMS_ACCOUNT.search(text)
    reference = " ".join(account.group(1).split()).strip(" .,")[:MAX_REFERENCE] \
        if account else None
    return ImportedTx(code, cents, moment, reference or None, phone, shown, name, number)


def parse_sms(text: str) -> Parsed:
    """Read every M-Pesa confirmation in pasted text (one or many, any spacing).

    Supported: the paybill and till notifications the business line receives
    ("... Ksh1,500.00 received from JANE DOE 0712345678 on 21/11/26 at 7:45 PM
    ... Account Number MLK-0042 ..."), both word orders, and a personal line's
    "You have received". Messages the payer received (money sent or paid) and
    reversals are listed as skipped.

    Raises:
        ImportFileError: empty, too long, or no receipt code followed by "Confirmed".
    """
    text = (text or "").replace("\x00", "")
    if not text.strip():
        raise ImportFileError(_l("Paste one or more M-Pesa confirmation messages."))
    if len(text) > MAX_SMS_CHARS:
        raise ImportFileError(_l("That is too much text at once. Paste at most about 1,000 "
                                 "messages at a time."))
    parsed = Parsed(TransactionSource.SMS)
    starts = list(_SMS_START.finditer(text))
    starts = [m for m in starts if re.search(r"\d", m.group(1)) and re.search(r"[A-Za-z]",
                                                                                m.group(1))]
    if not starts:
        raise ImportFileError(_l(
            "No M-Pesa confirmation was found. Each message starts with its receipt code, "
            "e.g. \"TC57ABC9XY Confirmed.\""))
    for number, match in enumerate(starts, start=1):
        end = starts[number].start() if number < len(starts) else len(text)
        code = normalise_mpesa_code(match.group(1))
        result = _one_sms(number, code, text[match.end():end])
        if isinstance(result, str):
            parsed.skipped.append(Skipped(number, _short(text[match.start():end]), result))
        else:
            parsed.add(result)
    return parsed


# --- Statements (the M-PESA org portal's CSV or Excel) ------------------------------------

#: Column headers, normalised (lower case, letters and digits, single spaces).
HEADERS = {
    "code": ("receipt no", "receipt number", "receipt", "transaction id", "trans id",
             "transaction code", "mpesa receipt", "mpesa receipt number", "transid"),
    "time": ("completion time", "completion date", "transaction time", "transaction date",
             "trans time", "date", "date time", "time", "transtime"),
    "started": ("initiation time",),
    "details": ("details", "description", "transaction details", "narration",
                "narrative"),
    "status": ("transaction status", "status"),
    "paid_in": ("paid in", "amount paid in", "money in", "credit", "credit amount",
                "deposit", "received"),
    "withdrawn": ("withdrawn", "paid out", "money out", "debit", "debit amount"),
    "amount": ("amount", "transamount", "trans amount"),
    "other": ("other party info", "other party", "opposite party", "party info",
              "customer", "msisdn"),
    "account": ("a c no", "ac no", "account no", "account number", "acc no",
                "bill ref number", "billrefnumber", "bill reference", "account reference"),
    "reason": ("reason type", "transaction type", "type"),
}
_HEADER_FIELD = {alias: name for name, aliases in HEADERS.items() for alias in aliases}
#: Details/reason texts of rows that are not a customer's payment to us.
_INTERNAL = re.compile(
    r"charge|reversal|revers|settle|transfer of funds|funds transfer|move funds|"
    r"utility account|working account|withdraw|b2b|business to business|interest|commission|"
    r"salary|disburse|bank",
    re.I)
_DETAILS_ACCOUNT = re.compile(r"\bAcc(?:ount)?\.?\s*(?:No\.?|Number)?\s*[:.]?\s*(.+)$", re.I)
_DETAILS_PARTY = re.compile(r"\bfrom\s+(.+?)(?=\s+Acc(?:ount)?\.?\s|$)", re.I)
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
    "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p", "%d-%m-%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M:%S", "%d-%b-%Y %H:%M:%S", "%d %b %Y %H:%M:%S", "%d-%b-%Y %H:%M",
    "%Y%m%d%H%M%S", "%d/%m/%y %H:%M", "%d/%m/%y %I:%M %p",
)


def _norm_header(value) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", str(value or "").lower()).split())


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return " ".join(str(value).replace("\x00", "").split())


def _statement_moment(value) -> datetime | None:
    if isinstance(value, datetime):
        local = value.replace(tzinfo=None)
    elif isinstance(value, date):
        local = datetime(value.year, value.month, value.day)
    else:
        text = _cell(value)
        local = None
        for fmt in _TIME_FORMATS:
            try:
                local = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if local is None:
            return None
    return to_utc(local, MPESA_ZONE)


def _money(value) -> int | None:
    """Cents from a cell ("1,500.00", 1500.0, "-230.00"); None for blank or zero."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return exact_cents(value) or None
    text = _cell(value).replace("KES", "").replace("Ksh", "").replace(" ", "")
    negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
    text = text.strip("-()")
    if not text or text in ("0", "0.00", "0.0"):
        return None
    try:
        cents = to_cents(text)
    except AmountError:
        return None
    return -cents if negative else cents


def _sniff(content: bytes) -> str:
    """"xlsx" or "csv" from the bytes themselves; anything else is refused."""
    if not content or not content.strip():
        raise ImportFileError(_l("The file is empty."))
    if content.startswith(b"PK\x03\x04"):
        return "xlsx"
    if content.startswith(b"%PDF"):
        raise ImportFileError(_l(
            "PDF statements cannot be read. In the M-PESA org portal, export the statement "
            "as CSV or Excel and upload that."))
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_l(
            "Old Excel files (.xls) cannot be read. Open it in Excel and save it as Excel "
            "Workbook (.xlsx) or CSV, then upload it again."))
    head = content[:2048].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<table", b"<")):
        raise ImportFileError(_l(
            "This file is a web page, not a statement. Export the statement from the "
            "M-PESA org portal as CSV or Excel (.xlsx) and upload that file."))
    if b"\x00" in content[:4096] and not content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(_l(
            "This is not a statement file. Upload the CSV or Excel (.xlsx) file exported "
            "from the M-PESA org portal."))
    return "csv"


#: The statement importer's words for a file that cannot be read.
_READ_ERRORS = ReadErrors(
    not_text=lambda: ImportFileError(_l(
        "This is not a statement file. Upload the CSV or Excel (.xlsx) file exported "
        "from the M-PESA org portal.")),
    bad_csv=lambda row: ImportFileError(_l(
        "The file could not be read as CSV (near row %(row)d).", row=row)),
    bad_xlsx=lambda: ImportFileError(_l(
        "This file is not a readable Excel (.xlsx) file. Open it in Excel and save it again "
        "as Excel Workbook (.xlsx) or CSV.")),
    too_big=ImportFileError,
)


def _find_columns(header: list) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, value in enumerate(header):
        name = _HEADER_FIELD.get(_norm_header(value))
        if name and name not in columns:
            columns[name] = position
    return columns


def _party(text: str) -> tuple[str | None, str | None, str | None]:
    """(E.164, shown, name) from "2547...- NAME", "2547******78 - NAME" or "NAME 07..."."""
    return _payer(text) if text else (None, None, None)


def parse_statement(filename: str, content: bytes) -> Parsed:
    """Read an M-Pesa statement: money received, one row per receipt code.

    Columns are found by header name (the org portal's "Receipt No.", "Completion
    Time", "Details", "Transaction Status", "Paid In", "Withdrawn", "Other Party
    Info", "A/C No." and common variants), after any preamble rows. Rows that are
    not completed, money out, charges, transfers and reversals are listed as skipped.

    Raises:
        ImportFileError: not CSV or Excel by its content, unreadable, no header with the
            needed columns, or too many rows.
    """
    kind = _sniff(content)
    read = xlsx_rows if kind == "xlsx" else csv_rows
    rows = read(content, MAX_COLUMNS, _READ_ERRORS)
    parsed = Parsed(TransactionSource.STATEMENT, filename=Path(filename or "").name[:120])
    columns = None
    for number, row in rows:
        if columns is None:
            if number > HEADER_SEARCH_ROWS:
                break
            found = _find_columns(row)
            if "code" in found and ("time" in found or "started" in found) and (
                    "paid_in" in found or "amount" in found):
                columns = found
            continue
        if number > MAX_STATEMENT_ROWS + HEADER_SEARCH_ROWS:
            raise ImportFileError(_l(
                "The statement has more than %(n)d rows. Export a shorter period and "
                "import it in parts.", n=MAX_STATEMENT_ROWS))
        _statement_row(parsed, columns, number, row)
    if columns is None:
        raise ImportFileError(_l(
            "No statement columns were found. The file needs a header row with \"Receipt "
            "No.\", \"Completion Time\" and \"Paid In\", as the M-PESA org portal exports."))
    return parsed


def _statement_row(parsed: Parsed, columns: dict, number: int, row: list) -> None:
    def get(name):
        position = columns.get(name)
        return row[position] if position is not None and position < len(row) else None

    if all(_cell(value) == "" for value in row):
        return
    raw_code = _cell(get("code"))
    details = _cell(get("details"))
    shown = _short(" ".join(filter(None, (raw_code, details))))
    code = normalise_mpesa_code(raw_code)
    if not code or not CODE_RE.match(code) or not re.search(r"\d", code):
        parsed.skipped.append(Skipped(number, shown, "bad_code"))
        return
    status = _cell(get("status")).lower()
    if "status" in columns and status and status != "completed":
        parsed.skipped.append(Skipped(number, shown, "not_completed"))
        return
    raw_amount = get("paid_in") if "paid_in" in columns else get("amount")
    cents = _money(raw_amount)
    if cents is None and _cell(raw_amount) not in ("", "0", "0.00", "0.0", "-"):
        parsed.skipped.append(Skipped(number, shown, "no_amount"))
        return
    if cents is None or cents <= 0 or _money(get("withdrawn")):
        parsed.skipped.append(Skipped(number, shown, "money_out"))
        return
    reason_type = _cell(get("reason"))
    if _INTERNAL.search(details) or _INTERNAL.search(reason_type):
        parsed.skipped.append(Skipped(number, shown, "internal"))
        return
    moment = _statement_moment(get("time") if "time" in columns else get("started"))
    reason = _check_moment(moment)
    if reason:
        parsed.skipped.append(Skipped(number, shown, reason))
        return
    account = _cell(get("account")) or None
    if account is None and details:
        found = _DETAILS_ACCOUNT.search(details)
        account = found.group(1).strip(" .") if found else None
    phone, phone_shown, name = _party(_cell(get("other")))
    if phone_shown is None and name is None and details:
        party = _DETAILS_PARTY.search(details)
        if party:
            phone, phone_shown, name = _payer(party.group(1))
    parsed.add(ImportedTx(code, cents, moment, (account or "")[:MAX_REFERENCE] or None,
                          phone, phone_shown, name, number))

