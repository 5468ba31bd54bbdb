"""The journal: posting balanced entries, reversing them, the per-account month
totals kept beside the postings, and the guards that make posted entries
immutable.

The journal is the truth: balances, statements and reports are sums of
postings. Entries are posted only through :func:`post_entry`, which refuses
unbalanced entries and dates in closed months; once flushed, an entry and its
postings can never be changed or deleted (:func:`install_guards`).
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event

from association.audit.checkpoints import digest_matches, event_mac, event_signer, keyed_start
from association.audit.models import AuditEvent
from association.audit.services import insert_audited, log_event, plain, write_events
from association.core.db import is_postgres, upsert
from association.core.money import MAX_CENTS, format_kes
from association.core.time import month_start, today_in_nairobi
from association.extensions import db
from association.ledger.accounts import forget_account_ids
from association.ledger.errors import AlreadyVoidedError, PostedEntryError, UnbalancedEntryError
from association.ledger.models import AccountMonthTotal, EntrySource, JournalEntry, Posting, Side
from association.ledger.periods import (
    check_open,
    forget_closed_months,
    forget_closed_months_on_write,
)


@dataclass(frozen=True)
class Line:
    """One line of an entry to be posted."""

    account_id: int
    side: Side
    amount_cents: int
    member_id: int | None = None


def post_entry(
    entry_date: date,
    memo: str,
    source: EntrySource,
    lines: list[Line],
    posted_by_id: int | None = None,
    reference: str | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post a balanced entry.

    Raises:
        UnbalancedEntryError: fewer than two lines, a non-positive amount, or
            debits that do not equal credits.
        ClosedPeriodError: ``entry_date`` is in a closed month.
    """
    lines = balanced(lines)
    check_open(entry_date)
    entry = JournalEntry(
        entry_date=entry_date, memo=memo[:300], source=source, reference=reference,
        posted_by_id=posted_by_id, reverses=reverses,
    )
    db.session.add(entry)
    db.session.flush()
    # One statement for all the lines: a dues run posts one line per member.
    ids = insert_audited(Posting, [
        {"entry_id": entry.id, "account_id": line.account_id, "member_id": line.member_id,
         "side": line.side, "amount_cents": line.amount_cents}
        for line in lines
    ])
    seal_entries([({column: getattr(entry, column) for column in ENTRY_COLUMNS}, ids, lines)])
    add_to_month_totals(entry_date, lines)
    return entry


#: The audit action of an entry's seal.
SEAL = "seal"
#: The seal's content version: 2 holds the whole entry row; seals without "v" (written by
#: the upgrade ``4d1b00c5e7a1`` and before this) hold the date and the postings only.
SEAL_VERSION = 2
#: Every column of the entry row, as its seal holds them (a new column needs a new version).
ENTRY_COLUMNS = ("id", "entry_date", "memo", "source", "reference", "posted_by_id",
                 "posted_at", "reverses_id")


def seal_entries(entries: Iterable[tuple[dict, list[int], list[Line]]]) -> None:
    """Seal entries just posted into the audit chain, when the transaction commits: each
    entry's row and its postings' digest, so an entry or posting changed in the database
    no longer matches the chain (:func:`verify_entries`).

    Every path that posts entries calls this: :func:`post_entry`, and the M-Pesa batches of
    :func:`association.ledger.payments.record_payments`.

    Args:
        entries: (the entry's row: every column of :data:`ENTRY_COLUMNS`, the ids
            ``insert_audited`` gave its postings, its lines in the same order).
    """
    for row, posting_ids, lines in entries:
        log_event(SEAL, "journal_entry", row["id"], seal_content(row, [
            (posting_id, line.account_id, line.member_id, line.side, line.amount_cents)
            for posting_id, line in zip(posting_ids, lines, strict=True)
        ]))


def seal_content(entry, postings: Iterable[tuple]) -> dict:
    """What an entry's seal holds (version 2): every column of the entry row, and the
    count, totals and SHA-256 digest of its postings (rows of id, account id, member id,
    side, amount in cents, by id).

    A dues run's entry has 20,000 postings: the seal stays a few hundred bytes.

    Args:
        entry: a mapping of :data:`ENTRY_COLUMNS` (a row, or the values just inserted).
    """
    return {"v": SEAL_VERSION, "entry": {column: plain(entry[column]) for column in ENTRY_COLUMNS},
            **_postings_digest(postings)}


def seal_content_v1(entry_date: date, postings: Iterable[tuple]) -> dict:
    """What a seal of the first version holds: the entry's date and its postings' digest."""
    return {"entry_date": entry_date.isoformat(), **_postings_digest(postings)}


def _postings_digest(postings: Iterable[tuple]) -> dict:
    digest, count, debit, credit = hashlib.sha256(), 0, 0, 0
    for posting_id, account_id, member_id, side, amount_cents in postings:
        side = Side(side)
        digest.update(f"{posting_id},{account_id},{'' if member_id is None else member_id},"
                      f"{side.value},{amount_cents}\n".encode("ascii"))
        count += 1
        if side == Side.DEBIT:
            debit += amount_cents
        else:
            credit += amount_cents
    return {"postings": count, "debit_cents": debit, "credit_cents": credit,
            "sha256": digest.hexdigest()}


@dataclass(frozen=True)
class EntriesCheck:
    """What :func:`verify_entries` found: entries checked, and the first problem if any."""

    checked: int
    entry_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


#: Seals by entry id (a few tens of bytes each, sorted by the database).
_SEALS = (sa.select(sa.cast(AuditEvent.object_id, sa.Integer).label("entry_id"), AuditEvent.after,
                    AuditEvent.seq, AuditEvent.hash, AuditEvent.mac)
          .where(AuditEvent.object_type == "journal_entry", AuditEvent.action == SEAL)
          .order_by(sa.cast(AuditEvent.object_id, sa.Integer)))
_ENTRIES = (sa.select(*(JournalEntry.__table__.c[column] for column in ENTRY_COLUMNS))
            .order_by(JournalEntry.id))
_POSTING_ROWS = (sa.select(Posting.entry_id, Posting.id, Posting.account_id, Posting.member_id,
                           Posting.side, Posting.amount_cents)
                 .order_by(Posting.entry_id, Posting.id))


def verify_entries(batch_size: int = 5000) -> EntriesCheck:
    """Recompute every entry's seal from its posting rows and compare it with the seal in
    the audit chain; name the first entry that differs, has no seal, or whose seal names
    an entry that is gone. Entries, seals and postings are streamed side by side in entry
    order (a million postings take one pass each, not memory).

    A seal counts only when its event is at or before the keyed checkpoint or carries a
    valid MAC: a seal event made up without the key is named, not trusted.
    """
    keyed_from, signer = keyed_start(), event_signer()

    def unkeyed(seal) -> bool:
        return (keyed_from is None or seal.seq > keyed_from) and not digest_matches(
            seal.mac, event_mac(seal.hash, signer))

    streams = [db.session.execute(stmt.execution_options(yield_per=batch_size))
               for stmt in (_ENTRIES, _SEALS, _POSTING_ROWS)]
    entries, seals, postings = (iter(stream) for stream in streams)
    checked = 0
    try:
        seal, posting = next(seals, None), next(postings, None)
        for row in entries:
            entry_id = row.id
            if seal is not None and seal.entry_id < entry_id:
                return EntriesCheck(checked, seal.entry_id,
                                    f"entry {seal.entry_id} was sealed in the audit trail but "
                                    f"is gone")
            if posting is not None and posting.entry_id < entry_id:
                return EntriesCheck(checked, posting.entry_id,
                                    f"posting {posting.id} belongs to entry {posting.entry_id}, "
                                    f"which is gone")
            own = []
            while posting is not None and posting.entry_id == entry_id:
                own.append(tuple(posting)[1:])
                posting = next(postings, None)
            if seal is None or seal.entry_id != entry_id:
                return EntriesCheck(checked, entry_id,
                                    f"entry {entry_id} has no seal in the audit trail")
            if unkeyed(seal):
                return EntriesCheck(checked, entry_id,
                                    f"entry {entry_id}'s seal (audit event {seal.seq}) carries "
                                    f"no valid MAC: it was added or changed without the key")
            sealed, seal = seal.after, next(seals, None)
            if seal is not None and seal.entry_id == entry_id:
                return EntriesCheck(checked, entry_id, f"entry {entry_id} has two seals")
            problem = _seal_differs(json.loads(sealed), row._mapping, own)
            if problem:
                return EntriesCheck(checked, entry_id,
                                    f"entry {entry_id} differs from its seal in the audit trail: "
                                    f"{problem}")
            checked += 1
        if seal is not None:
            return EntriesCheck(checked, seal.entry_id,
                                f"entry {seal.entry_id} was sealed in the audit trail but is gone")
        if posting is not None:
            return EntriesCheck(checked, posting.entry_id,
                                f"posting {posting.id} belongs to entry {posting.entry_id}, "
                                f"which is gone")
    finally:
        for stream in streams:
            stream.close()  # server-side cursors on PostgreSQL: closed even on early return
    return EntriesCheck(checked)


def _seal_differs(sealed: dict, row, postings: list[tuple]) -> str | None:
    """What of an entry differs from its seal (None: nothing), for either version."""
    if "v" not in sealed:  # version 1: the date and the postings
        if sealed != seal_content_v1(_as_date(row["entry_date"]), postings):
            return "its postings or date were changed"
        return None
    if sealed.get("v") != SEAL_VERSION:
        return f"its seal is of an unknown version ({sealed.get('v')!r})"
    want = seal_content(row, postings)
    if sealed == want:
        return None
    changed = [column for column in ENTRY_COLUMNS
               if (sealed.get("entry") or {}).get(column) != want["entry"][column]]
    if any(sealed.get(key) != want[key] for key in want if key not in ("v", "entry")):
        changed.append("postings")
    return f"its {', '.join(changed) or 'seal'} changed"


def seal_unsealed_entries(conn: sa.Connection, batch: int = 1000) -> int:
    """Seal the entries posted before entries were sealed, from their rows and posting rows
    as they stand (the upgrade that brought seals in runs this once). Returns how many."""
    seals = sa.select(AuditEvent.object_id).where(
        AuditEvent.object_type == "journal_entry", AuditEvent.action == SEAL)
    todo = list(conn.execute(
        _ENTRIES.where(sa.cast(JournalEntry.id, sa.String).not_in(seals))))
    # Before the upgrade that gave events their MAC (9c6e7f3a2b16) the column is not there.
    keyed = "mac" in {column["name"] for column in sa.inspect(conn).get_columns("audit_event")}
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        own: dict[int, list[tuple]] = defaultdict(list)
        for row in conn.execute(_POSTING_ROWS.where(Posting.entry_id.in_([e.id for e in chunk]))):
            own[row.entry_id].append(tuple(row)[1:])
        write_events(conn, [
            (SEAL, "journal_entry", str(entry.id), None,
             seal_content(entry._mapping, own[entry.id]), None, "upgrade")
            for entry in chunk
        ], keyed=keyed)
    return len(todo)


def balanced(lines: list[Line]) -> list[Line]:
    """An entry's lines, merged, once they are shown to balance.

    Raises:
        UnbalancedEntryError: fewer than two lines, a non-positive amount, or
            debits that do not equal credits.
    """
    lines = _merge(lines)
    if len(lines) < 2:
        raise UnbalancedEntryError(_l("An entry needs at least two lines."))
    for line in lines:
        if not isinstance(line.amount_cents, int) or not 0 < line.amount_cents <= MAX_CENTS * 1000:
            raise UnbalancedEntryError(_l("Every line needs an amount above zero."))
    debits = sum(line.amount_cents for line in lines if line.side == Side.DEBIT)
    credits = sum(line.amount_cents for line in lines if line.side == Side.CREDIT)
    if debits != credits:
        raise UnbalancedEntryError(
            _l("Debits (%(debits)s) and credits (%(credits)s) must be equal.",
               debits=format_kes(debits), credits=format_kes(credits))
        )
    return lines


def add_to_month_totals(entry_date: date, lines: list[Line]) -> None:
    """Add an entry's lines to its month's per-account totals (an upsert per account)."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        sums[line.account_id][0 if line.side == Side.DEBIT else 1] += line.amount_cents
    insert = upsert(db.session, AccountMonthTotal.__table__)
    stmt = insert.on_conflict_do_update(
        index_elements=["account_id", "month"],
        set_={"debit_cents": AccountMonthTotal.__table__.c.debit_cents
              + insert.excluded.debit_cents,
              "credit_cents": AccountMonthTotal.__table__.c.credit_cents
              + insert.excluded.credit_cents},
    )
    month = month_start(entry_date)
    # In account order, so two transactions never wait for each other's rows crosswise.
    db.session.execute(stmt, [
        {"account_id": account, "month": month, "debit_cents": debit, "credit_cents": credit}
        for account, (debit, credit) in sorted(sums.items())
    ])


def _month_totals_from_journal() -> sa.Select:
    """What the month totals should hold, computed from every posting."""
    debit = sa.func.sum(sa.case((Posting.side == Side.DEBIT, Posting.amount_cents), else_=0))
    credit = sa.func.sum(sa.case((Posting.side == Side.CREDIT, Posting.amount_cents), else_=0))
    first = _first_of_month(JournalEntry.entry_date)
    return (sa.select(Posting.account_id, first.label("month"), debit.label("debit_cents"),
                      credit.label("credit_cents"))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .group_by(Posting.account_id, first))


def _first_of_month(column):
    if is_postgres(db.session):
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return sa.func.date(column, "start of month")


def rebuild_month_totals() -> int:
    """Recompute the month totals from the journal (after a bulk load); returns rows."""
    table = AccountMonthTotal.__table__
    db.session.execute(sa.delete(table))
    rows = [{**row._mapping, "month": _as_date(row.month)}
            for row in db.session.execute(_month_totals_from_journal())]
    if rows:
        db.session.execute(sa.insert(table), rows)
    return len(rows)


def month_totals_differences() -> list[tuple[int, date]]:
    """(account id, month) pairs whose stored totals disagree with the journal: none, ever."""
    want = {(r.account_id, _as_date(r.month)): (int(r.debit_cents), int(r.credit_cents))
            for r in db.session.execute(_month_totals_from_journal())}
    have = {(r.account_id, r.month): (r.debit_cents, r.credit_cents)
            for r in db.session.scalars(sa.select(AccountMonthTotal))}
    keys = set(want) | set(have)
    return sorted(k for k in keys if want.get(k, (0, 0)) != have.get(k, (0, 0)))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _merge(lines: list[Line]) -> list[Line]:
    """Add up lines to the same account, member and side (a dues run has thousands)."""
    totals: dict[tuple, int] = defaultdict(int)
    for line in lines:
        totals[(line.account_id, line.member_id, line.side)] += line.amount_cents
    return [Line(a, s, amount, m) for (a, m, s), amount in totals.items()]


def reverse_entry(
    entry: JournalEntry, memo: str, posted_by_id: int | None, on: date | None = None
) -> JournalEntry:
    """Post the mirror image of ``entry``, pointing at it.

    Raises:
        LedgerError: the entry was already reversed.
        ClosedPeriodError: ``on`` is in a closed month.
    """
    already = db.session.scalar(
        sa.select(JournalEntry.id).where(JournalEntry.reverses_id == entry.id)
    )
    if already is not None:
        raise AlreadyVoidedError(_l("This entry has already been reversed."))
    flipped = [
        Line(p.account_id, Side.CREDIT if p.side == Side.DEBIT else Side.DEBIT, p.amount_cents,
             p.member_id)
        for p in entry.postings
    ]
    return post_entry(on or today_in_nairobi(), memo, EntrySource.REVERSAL, flipped,
                      posted_by_id, reference=entry.reference, reverses=entry)


def _refuse_changes_to_posted(session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (JournalEntry, Posting)) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise PostedEntryError(
                _l("Posted entries cannot be changed or deleted; post a reversing entry.")
            )


def install_guards() -> None:
    """Refuse, at every flush, any change to or deletion of a posted entry (idempotent)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "before_flush", _refuse_changes_to_posted):
        event.listen(session_class, "before_flush", _refuse_changes_to_posted)
        event.listen(session_class, "after_soft_rollback", forget_account_ids)
        event.listen(session_class, "after_soft_rollback", forget_closed_months)
    if not event.contains(session_class, "after_commit", forget_closed_months):
        event.listen(session_class, "after_commit", forget_closed_months)
        event.listen(session_class, "before_flush", forget_closed_months_on_write)
