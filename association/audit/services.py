"""Writing and verifying the audit trail.

Every flush of the application's session is audited automatically: the
``before_flush``/``after_flush`` hooks below turn each created, changed or
deleted row into an :class:`AuditEvent`, so no service can forget to. Events
that are not row writes (an export of personal data, say) go through
:func:`log_event`. A transaction's events are chained when it commits, in the
same transaction: all of them or none.
"""

import contextlib
import enum
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from association.audit.checkpoints import (
    any_checkpoint,
    digest_matches,
    event_mac,
    event_signer,
    keyed_start,
    start_keyed_chain,
)
from association.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from association.core.db import upsert
from association.core.time import utcnow
from association.extensions import db

#: Shown instead of values that must never be copied into the trail.
REDACTED = "<redacted>"

_actor: ContextVar[tuple[int | None, str]] = ContextVar("audit_actor", default=(None, "system"))


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify_chain` found."""

    ok: bool
    checked: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None
    #: The checkpoint's position the check started from (None: from the first event).
    since_seq: int | None = None
    #: How many events after the first break fail their own check too (their hash, their
    #: link to the event before or their MAC): an old break known about hides no new one.
    later_bad: int = 0


def set_request_actor(user_id: int | None, label: str) -> None:
    """Name who is acting for the rest of this request."""
    g.audit_actor = (user_id, label)


@contextlib.contextmanager
def acting_as(label: str, user_id: int | None = None) -> Iterator[None]:
    """Name who is acting outside a request (CLI commands, scripts)."""
    token = _actor.set((user_id, label))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> tuple[int | None, str]:
    """The (user id, label) that new audit events are attributed to."""
    if has_request_context() and "audit_actor" in g:
        return g.audit_actor
    return _actor.get()


def canonical_json(value) -> str:
    """JSON with sorted keys and no spaces: the same text for the same content."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, content: dict) -> str:
    """SHA-256 over the previous hash and the event's canonical content."""
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def _content(row) -> dict:
    return {
        "seq": row["seq"],
        "occurred_at": row["occurred_at"].isoformat(timespec="microseconds"),
        "actor_id": row["actor_id"],
        "actor": row["actor"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "before": row["before"],
        "after": row["after"],
    }


def plain(value):
    """A JSON-safe form of a column value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    return value


_plain = plain


def _object_type(obj) -> str:
    return obj.__tablename__


def _object_id(obj) -> str | None:
    identity = inspect(obj).identity
    if identity is None:
        return None
    return ":".join(str(part) for part in identity)


def _redacted_keys(obj) -> set[str]:
    return set(getattr(obj, "__audit_redact__", ()))


def _column_values(obj) -> dict:
    redact = _redacted_keys(obj)
    values = {}
    for attr in inspect(obj).mapper.column_attrs:
        value = getattr(obj, attr.key)
        values[attr.key] = REDACTED if attr.key in redact and value is not None else _plain(value)
    return values


def _changes(obj) -> tuple[dict, dict]:
    """Changed columns of a dirty object: (before, after)."""
    state = inspect(obj)
    redact = _redacted_keys(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        # Only attributes set since loading can have changed. Not ``state.attrs``: it
        # builds every attribute's state first (a tenth of a worker batch's time).
        if attr.key not in state.committed_state:
            continue
        history = get_history(obj, attr.key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        if attr.key in redact:
            old, new = REDACTED, REDACTED
        before[attr.key] = _plain(old)
        after[attr.key] = _plain(new)
    return before, after


def _audited(obj) -> bool:
    return getattr(obj, "__audited__", True) and not isinstance(obj, (AuditEvent, AuditHead))


def _before_flush(session: Session, flush_context, instances) -> None:
    """Capture values that the flush will overwrite or delete."""
    # A failed flush never reaches after_flush: start afresh so nothing stale is logged.
    pending = session.info["audit_pending"] = []
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                pending.append(("update", obj, before, after))
    for obj in session.deleted:
        if _audited(obj):
            pending.append(("delete", obj, _column_values(obj), None))
    session.info["audit_new"] = [o for o in session.new if _audited(o)]


def _after_flush(session: Session, flush_context) -> None:
    """Keep the flushed writes, to be chained when the transaction commits."""
    pending = session.info.pop("audit_pending", [])
    new = session.info.pop("audit_new", [])
    events = [
        (action, _object_type(obj), _object_id(obj), before, after)
        for action, obj, before, after in pending
    ]
    events += [("create", _object_type(o), _object_id(o), None, _column_values(o)) for o in new]
    _defer(session, events)


# --- Events wait for the commit -----------------------------------------------------
#
# A transaction's events are chained once, when it commits: one lock of the chain's head
# and one insert for everything it wrote (an M-Pesa batch flushes a hundred times), and
# the head is locked only for the moment of the commit, not for the whole transaction.
# A savepoint that is rolled back takes its events with it.


def _waiting(session: Session) -> dict:
    return session.info.setdefault("audit_waiting", {"events": [], "savepoints": {}})


def _defer(session: Session, events: list[tuple]) -> None:
    """Keep ``events`` with who is acting now (the actor may change before the commit)."""
    if events:
        actor = current_actor()
        _waiting(session)["events"].extend((*each, *actor) for each in events)


def _savepoint_begun(session: Session, transaction) -> None:
    if transaction.nested:
        waiting = _waiting(session)
        waiting["savepoints"][transaction] = len(waiting["events"])


def _rolled_back(session: Session, previous_transaction) -> None:
    """A savepoint rolled back drops its events (a whole transaction's end drops all)."""
    if previous_transaction.nested:
        waiting = _waiting(session)
        kept = waiting["savepoints"].pop(previous_transaction, None)
        if kept is not None:
            del waiting["events"][kept:]


def _before_commit(session: Session) -> None:
    """Chain the transaction's events in it, just before it commits (not a savepoint's
    release: those events wait for the transaction)."""
    if session.in_nested_transaction():
        return
    session.flush()
    waiting = session.info.pop("audit_waiting", None)
    if waiting and waiting["events"]:
        _write(session.connection(), waiting["events"])


def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (events written) or rolled back
        session.info.pop("audit_waiting", None)


def take_waiting_events(session: Session) -> list[tuple]:
    """The events waiting for the transaction's commit, taken out of it, to be written in
    another transaction by :func:`write_events` (a GET's read audit: see
    :mod:`association.transaction`)."""
    waiting = session.info.get("audit_waiting")
    if not waiting:
        return []
    events, waiting["events"] = waiting["events"], []
    waiting["savepoints"].clear()
    return events


def write_events(conn: sa.Connection, events: list[tuple], keyed: bool = True) -> None:
    """Chain events taken by :func:`take_waiting_events` (each with its actor) on ``conn``.

    Args:
        keyed: give each event its MAC; False only for an upgrade that runs before the
            ``mac`` column exists (:func:`association.ledger.journal.seal_unsealed_entries`).
    """
    _write(conn, events, keyed)


_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__
#: Built once: an M-Pesa callback or a payment commits in a few milliseconds, and building
#: these statements anew each time cost as much as running them.
_RESERVE = (sa.update(_HEAD).where(_HEAD.c.id == 1)
            .values(seq=_HEAD.c.seq + sa.bindparam("n", type_=sa.Integer))
            .returning(_HEAD.c.seq, _HEAD.c.hash))
_MOVE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1).values(hash=sa.bindparam("new_hash"))
_INSERT_EVENTS = sa.insert(_EVENTS)


def _write(conn: sa.Connection, events: list[tuple], keyed: bool = True) -> None:
    """Chain ``events`` (each with its actor id and label) after the head, in order, each
    with its MAC (unless not ``keyed``)."""
    # Locking the head row first serialises concurrent writers on both databases.
    head = conn.execute(_RESERVE, {"n": len(events)}).first()
    if head is None:
        started = conn.execute(
            upsert(conn, _HEAD).values(id=1, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing()
            .returning(_HEAD.c.id)
        ).first()
        if started is not None and keyed:  # a new chain: keyed from its first event
            start_keyed_chain(conn, 0, GENESIS_HASH)
        head = conn.execute(_RESERVE, {"n": len(events)}).one()
    last_seq, prev_hash = head
    signer = event_signer() if keyed else None
    now = utcnow()
    rows = []
    first = last_seq - len(events) + 1
    for offset, (action, object_type, object_id, before, after, actor_id, actor) \
            in enumerate(events):
        row = {
            "seq": first + offset,
            "occurred_at": now,
            "actor_id": actor_id,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "before": None if before is None else canonical_json(before),
            "after": None if after is None else canonical_json(after),
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = event_hash(prev_hash, _content(row))
        if signer is not None:
            row["mac"] = event_mac(prev_hash, signer)
        rows.append(row)
    if conn.dialect.name != "postgresql":
        conn.execute(_INSERT_EVENTS, rows)
        conn.execute(_MOVE_HEAD, {"new_hash": prev_hash})
    elif len(rows) < COPY_FROM and keyed:  # one event: a stored M-Pesa callback, a form saved
        conn.execute(_INSERT_EVENT_MOVING_HEAD,
                     {**{"event_" + key: value for key, value in rows[0].items()},
                      "new_hash": prev_hash})
    else:
        _copy_into(conn, _EVENTS, rows)
        conn.execute(_MOVE_HEAD, {"new_hash": prev_hash})


#: The event and the head's new hash in one statement (an UPDATE in the INSERT's WITH, which
#: PostgreSQL runs): one round trip less for every single write. Its parameters are not
#: named as columns: SQLAlchemy would take them for the UPDATE's values too (audit_head
#: has a seq and a hash).
_INSERT_EVENT_MOVING_HEAD = (
    sa.insert(_EVENTS)
    .values({column: sa.bindparam("event_" + column.key)
             for column in _EVENTS.c if column.key != "id"})
    .add_cte(_MOVE_HEAD.cte("moved"))
)


#: From this many events at once, PostgreSQL takes them by COPY: it streams them in one go
#: (a dues run writes 40,000), and it costs as much CPU as an INSERT for two events and
#: a third of it for a batch of M-Pesa payments (about 150).
COPY_FROM = 2


def _copy_into(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """``rows`` into ``table`` by PostgreSQL's COPY, inside the caller's transaction."""
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def insert_audited(model, rows: list[dict]) -> list[int]:
    """Insert many rows of ``model`` in one statement, auditing each as the session hooks do.

    For batches (a dues run charges every member) and hot single rows (each M-Pesa
    callback stored) where the ORM's unit of work costs more than the work itself.
    The rows are not in the session afterwards: query them when needed.

    Args:
        rows: one dict per row giving every column except the primary key ``id``.

    Returns:
        The new rows' ids, in the order of ``rows``.
    """
    if not rows:
        return []
    table = model.__table__
    expected = {column.key for column in table.columns} - {"id"}
    if set(rows[0]) != expected:
        raise ValueError(f"{table.name}: give exactly the columns {sorted(expected)}")
    session = db.session
    session.flush()
    if len(rows) == 1:
        ids = [session.execute(_insert_one(table), rows[0]).scalar_one()]
    elif session.get_bind().dialect.name == "sqlite":
        ids = _sqlite_insert(table, rows)
    else:
        # Sequence values follow the statement's ORDER BY, as SQLAlchemy's own
        # sort_by_parameter_order assumes on PostgreSQL: sorted, they are in row order.
        ids = sorted(session.execute(_insert_many(table), _as_arrays(rows)).scalars())
    redact = _redacted_keys(model)
    events = [
        ("create", table.name, str(row_id), None, {
            "id": row_id,
            **{key: REDACTED if key in redact and value is not None else _plain(value)
               for key, value in row.items()},
        })
        for row_id, row in zip(ids, rows, strict=True)
    ]
    _defer(session(), events)
    return ids


@cache
def _insert_one(table: sa.Table) -> sa.Insert:
    return sa.insert(table).returning(table.c.id)


@cache
def _insert_many(table: sa.Table) -> sa.Insert:
    """PostgreSQL: ``INSERT INTO table SELECT * FROM unnest(an array a column) RETURNING id``,
    the rows inserted in the order given.

    A multi-row ``VALUES`` has a parameter a value, and psycopg parses its text again
    at every execution (it caches queries of up to 50 parameters only): a batch of 20
    M-Pesa transactions took three times as much CPU as with one array a column.
    """
    columns = [column for column in table.c if column.key != "id"]
    keys = [column.key for column in columns]
    arrays = sa.func.unnest(
        *(sa.bindparam(column.key, type_=postgresql.ARRAY(_unsized(column.type)))
          for column in columns)
    ).table_valued(*keys, with_ordinality="given_order").render_derived()
    return (sa.insert(table)
            .from_select(keys, sa.select(*(arrays.c[key] for key in keys))
                         .order_by(arrays.c.given_order))
            .returning(table.c.id))


def _unsized(type_: sa.types.TypeEngine) -> sa.types.TypeEngine:
    """A string type without its length: the arrays are cast to their types, and a cast
    to ``VARCHAR(20)`` would cut a longer value where the column refuses it."""
    return type_.adapt(type(type_), length=None) if isinstance(type_, sa.String) else type_


def _as_arrays(rows: list[dict]) -> dict[str, list]:
    """Rows as one list of values a column, for :func:`_insert_many`."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _sqlite_insert(table: sa.Table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` in one executemany; their ids, in order.

    SQLite can only return ids in order one row per statement (20,000 statements
    for a dues run). Without RETURNING it numbers each new row one above the
    highest id, and the transaction's write lock, taken by the first row, keeps
    every other writer out until commit: the rows just written are the last ones.
    """
    session = db.session
    session.execute(sa.insert(table), rows)
    ids = list(session.scalars(
        sa.select(table.c.id).order_by(table.c.id.desc()).limit(len(rows))))[::-1]
    if ids != list(range(ids[0], ids[0] + len(rows))):
        raise RuntimeError(f"{table.name}: the new rows' ids are not consecutive")
    return ids


def log_event(action: str, object_type: str, object_id=None, details: dict | None = None) -> None:
    """Record something that is not a row write (an export, say) in the trail, when the
    transaction commits."""
    _defer(db.session(),
           [(action, object_type, None if object_id is None else str(object_id), None, details)])


def _walk(rows, prev_hash: str = GENESIS_HASH, checked: int = 0,
          marks: dict[int, set[str]] | None = None, keyed_from: int | None = None,
          signer: "hmac.HMAC | None" = None
          ) -> tuple[str, int, tuple[int, str] | None, int]:
    """Check events in order: the last good hash, how many were good, the first break, and
    how many events after the break fail on their own.

    ``marks`` maps a position to the hashes checkpoints signed there: the recomputed chain
    must pass through each. Every event after ``keyed_from``, and after the first event
    that carries a MAC, must carry a valid one (``signer``: :func:`event_signer`). After
    the first break the walk goes on, checking each event against the one before it as
    stored, and counts those that fail.
    """
    keyed, broken, later_bad, stored_prev, expected_seq = False, None, 0, prev_hash, checked
    for row in rows:
        expected_seq += 1
        problem = _event_problem(row, expected_seq, stored_prev, marks, keyed_from, signer,
                                 keyed)
        keyed = keyed or row["mac"] is not None or (
            keyed_from is not None and row["seq"] > keyed_from)
        if broken is None:
            if problem is not None:
                broken = (expected_seq, problem)
            else:
                prev_hash, checked = row["hash"], expected_seq
        elif problem is not None:
            later_bad += 1
        stored_prev, expected_seq = row["hash"], row["seq"]
    return prev_hash, checked, broken, later_bad


def _event_problem(row, seq: int, prev_hash: str, marks, keyed_from, signer, keyed) -> str | None:
    """What is wrong with one event, following ``prev_hash`` at position ``seq``."""
    if row["seq"] != seq:
        return f"event {seq} is missing (next found is {row['seq']})"
    if row["prev_hash"] != prev_hash:
        return f"event {seq} does not follow event {seq - 1}"
    if event_hash(prev_hash, _content(row)) != row["hash"]:
        return f"event {seq} was changed after it was written"
    if marks and seq in marks and marks[seq] != {row["hash"]}:
        return (f"event {seq} is not the one a checkpoint signed: the chain was "
                f"rewritten up to or after it")
    keyed = keyed or row["mac"] is not None or (keyed_from is not None and seq > keyed_from)
    if keyed and row["mac"] is None:
        return f"event {seq} has no MAC: it was added or changed without the key"
    if keyed and not digest_matches(row["mac"], event_mac(row["hash"], signer)):
        return f"event {seq} has a wrong MAC: it was added or changed without the key"
    return None


def verify_chain(batch_size: int = 2000, marks=(), since=None) -> VerifyResult:
    """Recompute the chain, check every event's MAC after the keyed checkpoint, and say
    whether any event was changed, added without the key, or removed.

    Args:
        marks: checkpoints (with ``seq`` and ``chain_hash``) the chain must pass through;
            their MACs are the caller's to check (:mod:`association.audit.checkpoints`).
        since: a checkpoint to start from instead of the first event: only the events
            after it are recomputed (the ``/audit`` page).
    """
    table = AuditEvent.__table__
    wanted: dict[int, set[str]] = {}
    for mark in marks:
        wanted.setdefault(mark.seq, set()).add(mark.chain_hash)
    prev_hash, checked = GENESIS_HASH, 0
    stmt = sa.select(table).order_by(table.c.seq).execution_options(yield_per=batch_size)
    since_seq = since.seq if since is not None else None
    if since is not None and since.seq > 0:
        at = db.session.execute(sa.select(table.c.hash).where(table.c.seq == since.seq)).first()
        if at is None or at.hash != since.chain_hash:
            return VerifyResult(False, 0, since.chain_hash, since.seq,
                                f"event {since.seq} is not the one the checkpoint signed",
                                since.seq)
        prev_hash, checked = since.chain_hash, since.seq
        stmt = stmt.where(table.c.seq > since.seq)
    start = checked
    keyed_from = keyed_start()
    result = db.session.execute(stmt)
    try:
        prev_hash, checked, broken, later_bad = _walk(result.mappings(), prev_hash, checked,
                                                      wanted, keyed_from, event_signer())
    finally:
        result.close()  # a server-side cursor on PostgreSQL: close it even on early return
    if broken is not None:
        return VerifyResult(False, checked - start, prev_hash, *broken, since_seq, later_bad)
    beyond = [seq for seq in wanted if seq > checked]
    if beyond:
        return VerifyResult(
            False, checked - start, prev_hash, checked + 1,
            f"a checkpoint signed event {min(beyond)} but the chain ends at event {checked}: "
            f"events were removed", since_seq)
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one_or_none()
    if head is not None and (head.seq, head.hash) != (checked, prev_hash):
        return VerifyResult(
            False, checked - start, prev_hash, checked + 1,
            f"events after event {checked} were removed (the chain head is at {head.seq})",
            since_seq)
    if keyed_from is None and checked > 0:
        # Every chain gets a keyed checkpoint when it starts or is upgraded: without it,
        # nothing says from where the events must carry a MAC.
        return VerifyResult(
            False, checked - start, prev_hash, 1,
            "there is no checkpoint at all: they were deleted, so events could have been "
            "added or changed without the key" if not any_checkpoint() else
            "the checkpoint where the events start carrying a MAC is missing or forged: events "
            "could have been added or changed without the key", since_seq)
    return VerifyResult(True, checked - start, prev_hash, since_seq=since_seq)


def install_hooks() -> None:
    """Audit every flush of the application's sessions (idempotent)."""
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)
        event.listen(session_class, "after_transaction_create", _savepoint_begun)
        event.listen(session_class, "after_soft_rollback", _rolled_back)
        event.listen(session_class, "before_commit", _before_commit)
        event.listen(session_class, "after_transaction_end", _transaction_ended)
