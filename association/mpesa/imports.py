"""Groups without API access: pasted M-Pesa confirmation SMS and uploaded statements.

An import is read in full first (:func:`parse_sms` or :func:`parse_statement`),
kept for its uploader (:func:`stage`), shown as a preview (:func:`build_preview`:
each transaction with its matched member, and those already in the books, by
receipt code, from any source), and written only when confirmed
(:func:`confirm`): every new transaction, or none. The confirmation checks again
what is already in the books, so a second tab, a double submit or a callback
that arrived meanwhile can never count a receipt code twice.

Each new receipt code becomes an ``MpesaTransaction`` (source ``sms`` or
``statement``); with a member it is credited at once (a ledger payment with its
receipt), without one it waits in suspense for the treasurer.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from association.core.money import AmountError, exact_cents, to_cents
from association.core.tabular import ReadErrors, Staging, csv_rows, xlsx_rows
from association.core.time import MPESA_ZONE, NAIROBI, to_utc, utcnow
from association.errors import DomainError
from association.extensions import db
from association.ledger.models import Payment, Receipt
from association.ledger.payments import normalise_mpesa_code
from association.members.models import Member
from association.mpesa.matching import MAX_REFERENCE, Match, current_index
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus
from association.mpesa.suspense import SuspenseError, find_member
from association.mpesa.transactions import credit_transaction, known_codes, put_in_suspense

#: How long a staged import waits for its confirmation.
#: The most pasted text read at once (about 1,000 messages).
MAX_SMS_CHARS = 200_000
#: The most statement rows read (a busy paybill's year is about 10,000).
MAX_STATEMENT_ROWS = 50_000
MAX_COLUMNS = 60
#: Header rows may follow a preamble (organisation name, period...): look this far.
HEADER_SEARCH_ROWS = 30
#: New payments written by one confirmation. Each credited one is a ledger payment with
#: its receipt (tens of milliseconds); a larger import is confirmed in parts, each part
#: all-or-nothing, so no request runs into the server's timeout.
BATCH_ROWS = 200
#: Up to this many new payments the treasurer may change each member in the preview;
#: beyond it (an import in parts) members are matched automatically.
EDITABLE_ROWS = BATCH_ROWS
#: M-Pesa launched in March 2007: an earlier date is a misread.
EARLIEST = datetime(2007, 3, 1)
CODE_RE = re.compile(r"^[A-Z0-9]{8,12}$")


class ImportFileError(DomainError):
    """The pasted text or the file cannot be read as M-Pesa transactions at all."""


class ImportStaleError(DomainError):
    """What is in the books changed since the preview; nothing was written."""


class ImportRowsError(DomainError):
    """Some member numbers typed in the preview are wrong; ``problems`` maps code to message."""

    def __init__(self, problems: dict):
        super().__init__(_l("Some member numbers need correcting. Nothing was imported yet."))
        self.problems = problems


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


# --- Keeping an import between preview and confirmation ------------------------------------


_STAGING = Staging("mpesa-imports")


def _stage_path(token: str) -> Path:
    path = _STAGING.path(token, "json")
    if path is None:
        raise _gone()
    return path


def _gone() -> ImportFileError:
    return ImportFileError(_l(
        "This import is finished, has expired, or belongs to someone else. Paste or upload "
        "it again."))


def stage(parsed: Parsed, user_id: int) -> str:
    """Keep a parsed import for its uploader for 24 hours; returns its random token.

    Raises:
        ImportFileError: nothing in it is a payment received.
    """
    if not parsed.items and not parsed.skipped:
        raise ImportFileError(_l("No M-Pesa payment was found in it."))
    token = _STAGING.new_token()
    data = {**_STAGING.owner(user_id), "kind": parsed.kind.value, "filename": parsed.filename,
            "items": [item.to_json() for item in parsed.items],
            "skipped": [asdict(s) for s in parsed.skipped]}
    _STAGING.write(_stage_path(token), json.dumps(data).encode())
    return token


def load(token: str, user_id: int) -> Parsed:
    """The import ``user_id`` staged as ``token``.

    Raises:
        ImportFileError: unknown, malformed, someone else's, expired or already imported.
    """
    path = _stage_path(token)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not _STAGING.is_theirs(data, user_id):
            raise _gone()
        parsed = Parsed(TransactionSource(data["kind"]), filename=data.get("filename"))
        parsed.items = [ImportedTx.from_json(item) for item in data["items"]]
        parsed.skipped = [Skipped(**s) for s in data["skipped"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise _gone() from None
    return parsed


def discard(token: str) -> None:
    try:
        _stage_path(token).unlink(missing_ok=True)
    except ImportFileError:
        return


# --- Preview and confirmation -------------------------------------------------------------


@dataclass
class PreviewRow:
    tx: ImportedTx
    known: bool
    match: Match
    member: Member | None
    #: What the member box shows: the matched member's number, or what was typed.
    typed: str = ""
    problem: object | None = None
    editable: bool = True
    #: The transaction already in the books with this code, waiting for confirmation
    #: (a callback Daraja could not confirm): the import confirms it.
    waiting: MpesaTransaction | None = None

    @property
    def agrees(self) -> bool:
        """Whether the waiting transaction's amount is the one the import shows."""
        return self.waiting is not None and self.waiting.amount_cents == self.tx.amount_cents


@dataclass
class Preview:
    kind: TransactionSource
    filename: str | None
    rows: list[PreviewRow]
    skipped: list[Skipped]
    #: A digest of the codes that are new now: the confirmation must see the same.
    expect: str
    #: Receipt numbers of the codes already in the books as payments.
    receipts: dict[str, str] = field(default_factory=dict)

    @property
    def new_rows(self) -> list[PreviewRow]:
        return [row for row in self.rows if not row.known]

    @property
    def known_count(self) -> int:
        return sum(1 for row in self.rows if row.known and row.waiting is None)

    @property
    def confirm_rows(self) -> list[PreviewRow]:
        """Waiting transactions this import confirms (the amounts agree)."""
        return [row for row in self.rows if row.agrees]

    @property
    def disagree_rows(self) -> list[PreviewRow]:
        """Waiting transactions whose amount differs from the import's: left as they are."""
        return [row for row in self.rows if row.waiting is not None and not row.agrees]

    @property
    def new_total_cents(self) -> int:
        return sum(row.tx.amount_cents for row in self.new_rows)

    @property
    def matched_count(self) -> int:
        return sum(1 for row in self.new_rows if row.member is not None)

    @property
    def editable_count(self) -> int:
        return sum(1 for row in self.new_rows if row.editable)


#: Codes per query, well under SQLite's and PostgreSQL's limits on bound values.
CHUNK = 5_000


def _known(codes: list[str]) -> set[str]:
    """``known_codes`` for any number of codes."""
    found: set[str] = set()
    for start in range(0, len(codes), CHUNK):
        found |= known_codes(codes[start:start + CHUNK])
    return found


def _waiting(codes: list[str]) -> dict[str, MpesaTransaction]:
    """Transactions in the books with these codes, still waiting for confirmation."""
    found = {}
    for start in range(0, len(codes), CHUNK):
        found.update((tx.receipt_code, tx) for tx in db.session.scalars(
            sa.select(MpesaTransaction).where(
                MpesaTransaction.receipt_code.in_(codes[start:start + CHUNK]),
                MpesaTransaction.status == TransactionStatus.UNCONFIRMED)))
    return found


def _confirmable(parsed: Parsed, waiting: dict[str, MpesaTransaction]) -> list[ImportedTx]:
    return [item for item in parsed.items if item.receipt_code in waiting
            and waiting[item.receipt_code].amount_cents == item.amount_cents]


def _digest(codes, confirmable=()) -> str:
    """What the preview promised: the new codes, and the waiting codes it confirms."""
    text = ",".join(sorted(codes)) + "|" + ",".join(sorted(confirmable))
    return hashlib.sha256(text.encode()).hexdigest()


def build_preview(parsed: Parsed, typed: dict[str, str] | None = None,
                  problems: dict | None = None) -> Preview:
    """Each transaction with its member (matched, or as typed) and whether it is known.

    Args:
        typed: member numbers the treasurer typed, by receipt code (from a "check").
        problems: messages by receipt code, from a confirmation that failed.
    """
    typed = typed or {}
    problems = problems or {}
    known = _known([item.receipt_code for item in parsed.items])
    waiting = _waiting(sorted(known))
    index = current_index()
    matches = {item.receipt_code: index.match(item.account_reference, item.phone)
               for item in parsed.items if item.receipt_code not in known}
    ids = {m.member_id for m in matches.values() if m.member_id}
    members = {m.id: m for m in db.session.scalars(
        sa.select(Member).where(Member.id.in_(ids)))} if ids else {}
    new = [item for item in parsed.items if item.receipt_code not in known]
    editable = {item.receipt_code for item in new} if len(new) <= EDITABLE_ROWS else set()
    rows = []
    for item in parsed.items:
        code = item.receipt_code
        if code in waiting:
            tx = waiting[code]
            match = Match(tx.member_id) if tx.member_id else \
                index.match(item.account_reference, item.phone)
            member = tx.member if tx.member_id else (
                db.session.get(Member, match.member_id) if match.member_id else None)
            rows.append(PreviewRow(item, True, match, member, editable=False, waiting=tx))
            continue
        if code in known:
            rows.append(PreviewRow(item, True, Match(None), None, editable=False))
            continue
        match = matches[code]
        member = members.get(match.member_id)
        row = PreviewRow(item, False, match, member, member.member_no if member else "",
                         match.problem, code in editable)
        if code in typed and row.editable:
            row.typed = typed[code]
            row.problem = problems.get(code)
            if not row.problem:
                row.member = _typed_member(typed[code])
        rows.append(row)
    return Preview(parsed.kind, parsed.filename, rows, parsed.skipped,
                   _digest((item.receipt_code for item in new),
                           (item.receipt_code for item in _confirmable(parsed, waiting))),
                   _receipt_numbers(known))


def _receipt_numbers(codes: set[str]) -> dict[str, str]:
    codes = sorted(codes)
    numbers = {}
    for start in range(0, len(codes), CHUNK):
        numbers.update(db.session.execute(
            sa.select(Payment.mpesa_code, Receipt.number)
            .join(Receipt, Receipt.payment_id == Payment.id)
            .where(Payment.mpesa_code.in_(codes[start:start + CHUNK]))
        ).all())
    return numbers


def _typed_member(text: str) -> Member | None:
    if not (text or "").strip():
        return None
    try:
        return find_member(text)
    except SuspenseError:
        return None


def check_typed(parsed: Parsed, typed: dict[str, str]) -> dict:
    """Problems with the member numbers typed in a preview (code -> message)."""
    problems = {}
    codes = {item.receipt_code for item in parsed.items}
    for code, text in typed.items():
        if code in codes and (text or "").strip():
            try:
                find_member(text)
            except SuspenseError as error:
                problems[code] = error.message
    return problems


@dataclass
class ImportResult:
    """How many transactions were credited and queued, their total, and how many remain."""

    credited: int
    suspense: int
    already_known: int
    total_cents: int
    #: New payments left for the next part of a large import.
    remaining: int = 0
    #: Transactions waiting for confirmation that this import confirmed.
    confirmed: int = 0


def confirm(parsed: Parsed, expect: str, typed: dict[str, str], user_id: int) -> ImportResult:
    """Write the new transactions of a staged import (the next part of a large one): all, or
    none.

    Args:
        expect: the preview's digest of new codes; if the books changed since, nothing
            is written and the caller shows the preview again.
        typed: member numbers (or phones) typed per receipt code; blank means suspense.
            Codes not given are matched automatically.

    Raises:
        ImportStaleError: a receipt code reached the books since the preview.
        ImportRowsError: a typed member number or phone matches nobody.
        LedgerError: the ledger refuses a payment.
    """
    codes = [item.receipt_code for item in parsed.items]
    known = _known(codes)
    new = [item for item in parsed.items if item.receipt_code not in known]
    confirmable = _confirmable(parsed, _waiting(sorted(known)))
    if _digest((item.receipt_code for item in new),
               (item.receipt_code for item in confirmable)) != expect:
        raise ImportStaleError(_l(
            "Some of these payments reached the books since the preview (from another tab, "
            "a callback or another import). Nothing was imported: check the list again."))
    if not new and not confirmable:
        raise ImportStaleError(_l("Every payment here is already in the books. Nothing to "
                                  "import."))
    problems = check_typed(parsed, typed)
    if problems:
        raise ImportRowsError(problems)
    remaining = max(0, len(new) - BATCH_ROWS)
    new = new[:BATCH_ROWS]
    index = current_index()
    confirmed = _confirm_waiting(confirmable, parsed.kind, index, user_id)
    chosen: list[tuple[MpesaTransaction, int | None]] = []
    for item in new:
        code = item.receipt_code
        if code in typed:
            member = _typed_member(typed[code])
            member_id = member.id if member else None
        else:
            member_id = index.match(item.account_reference, item.phone).member_id
        tx = MpesaTransaction(
            receipt_code=code, amount_cents=item.amount_cents, transacted_at=item.transacted_at,
            source=parsed.kind, status=TransactionStatus.UNCONFIRMED,
            account_reference=item.account_reference, phone=item.phone,
            payer_name=item.payer_name,
        )
        chosen.append((tx, member_id))
    try:
        db.session.add_all([tx for tx, _ in chosen])
        db.session.flush()  # one flush: the unique receipt code catches a race here
    except IntegrityError:
        # Another request wrote one of these codes a moment ago.
        raise ImportStaleError(_l(
            "Some of these payments reached the books since the preview (from another tab, "
            "a callback or another import). Nothing was imported: check the list again."
        )) from None
    ids = {member_id for _, member_id in chosen if member_id}
    members = {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(ids)))} \
        if ids else {}
    credited = 0
    for tx, member_id in chosen:
        if member_id is not None:
            credit_transaction(tx, members[member_id], user_id)
        else:
            put_in_suspense(tx, user_id)
        credited += tx.status == TransactionStatus.CREDITED
    return ImportResult(credited, len(chosen) - credited, len(known) - confirmed,
                        sum(item.amount_cents for item in new), remaining, confirmed)


def _confirm_waiting(items: list[ImportedTx], kind: TransactionSource, index,
                     user_id: int) -> int:
    """Confirm the waiting transactions the import shows with the same amount: the
    statement (or the SMS the line received) is the proof Daraja could not give.

    Each is credited to its member (the one the callback named, else the one the
    import matches), or put in suspense; never counted twice (the transaction is
    locked and must still be waiting).
    """
    from association.mpesa.callbacks import confirm_by_hand

    for item in items:
        tx = db.session.scalar(sa.select(MpesaTransaction).where(
            MpesaTransaction.receipt_code == item.receipt_code))
        if tx.member_id is None:
            tx.member_id = index.match(item.account_reference, item.phone).member_id
            db.session.flush()
        confirm_by_hand(tx.id, user_id)
        tx.note = ("Confirmed by the imported M-Pesa statement." if kind ==
                   TransactionSource.STATEMENT else "Confirmed by a pasted M-Pesa SMS.")
        db.session.flush()
    return len(items)
