"""Groups without API access: pasted M-Pesa confirmation SMS and uploaded statements.

An import is read in full first (:mod:`association.mpesa.import_parsing`), kept
for its uploader (:func:`stage`), shown as a preview (:func:`build_preview`:
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from association.core.tabular import Staging
from association.errors import DomainError
from association.extensions import db
from association.ledger.models import Payment, Receipt
from association.members.models import Member
from association.mpesa.import_parsing import ImportedTx, ImportFileError, Parsed, Skipped
from association.mpesa.matching import Match, current_index
from association.mpesa.models import MpesaTransaction, TransactionSource, TransactionStatus
from association.mpesa.processing import confirm_by_hand
from association.mpesa.suspense import SuspenseError, find_member
from association.mpesa.transactions import credit_transaction, known_codes, put_in_suspense

#: New payments written by one confirmation. Each credited one is a ledger payment with
#: its receipt (tens of milliseconds); a larger import is confirmed in parts, each part
#: all-or-nothing, so no request runs into the server's timeout.
BATCH_ROWS = 200
#: Up to this many new payments the treasurer may change each member in the preview;
#: beyond it (an import in parts) members are matched automatically.
EDITABLE_ROWS = BATCH_ROWS


class ImportStaleError(DomainError):
    """What is in the books changed since the preview; nothing was written."""


class ImportRowsError(DomainError):
    """Some member numbers typed in the preview are wrong; ``problems`` maps code to message."""

    def __init__(self, problems: dict):
        super().__init__(_l("Some member numbers need correcting. Nothing was imported yet."))
        self.problems = problems


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
