"""Keyed checkpoints of the audit chain: the chain's (seq, hash) signed with HMAC-SHA256
under a key from the environment, never the database.

A checkpoint is printed as one line, ``AC1-<seq>-<chain hash>-<mac>``, on the month's
close, in the auditor's pack manifest and on ``/audit``; ``flask audit verify
--checkpoint`` takes such lines back and checks the chain still passes through them.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from association.audit.models import (
    GENESIS_HASH,
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    CheckpointReason,
)
from association.core.db import upsert
from association.core.time import today_in_nairobi, utcnow
from association.extensions import db

#: A checkpoint as printed; found anywhere in a text (a saved MANIFEST.txt, say).
CHECKPOINT_RE = re.compile(r"\bAC1-(\d{1,18})-([0-9a-f]{64})-([0-9a-f]{64})\b")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest_matches(given, expected: str) -> bool:
    """Whether ``given`` (a MAC or hash read from the database) is ``expected``; False for
    anything that is not 64 lowercase hex digits (``hmac.compare_digest`` raises on
    non-ASCII text: one such row would stop every check)."""
    return (isinstance(given, str) and _DIGEST.fullmatch(given) is not None
            and hmac.compare_digest(given, expected))


class TrailBroken(Exception):
    """The chain from the last signed checkpoint to the head is not whole: it is not
    signed (:func:`make_checkpoint`, :func:`daily_checkpoint`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Mark:
    """A checkpoint's values, from the table or from a printed line."""

    seq: int
    chain_hash: str
    mac: str
    #: Where the event MACs start (:attr:`CheckpointReason.KEYED`): signed with its own
    #: construction (:func:`keyed_mac`), so no other checkpoint can be passed off as one.
    keyed: bool = False

    @property
    def value(self) -> str:
        return f"AC1-{self.seq}-{self.chain_hash}-{self.mac}"

    def signed(self) -> bool:
        """Whether the MAC is this installation's signature of (seq, hash)."""
        sign = keyed_mac if self.keyed else checkpoint_mac
        return digest_matches(self.mac, sign(self.seq, self.chain_hash))


def checkpoint_key() -> bytes:
    """``AUDIT_CHECKPOINT_KEY``, or when unset one derived from ``SECRET_KEY`` (both live
    in the environment only)."""
    key = current_app.config.get("AUDIT_CHECKPOINT_KEY")
    if key:
        return key.encode("utf-8")
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(secret, b"audit-checkpoint", hashlib.sha256).digest()


def checkpoint_mac(seq: int, chain_hash: str) -> str:
    """HMAC-SHA256 over ``"<seq>:<chain hash>"`` with :func:`checkpoint_key`."""
    return hmac.new(checkpoint_key(), f"{seq}:{chain_hash}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def keyed_mac(seq: int, chain_hash: str) -> str:
    """The keyed checkpoint's MAC: HMAC-SHA256 over ``"keyed:<seq>:<chain hash>"``, apart
    from :func:`checkpoint_mac`, so a copy of a day's or a close's checkpoint relabelled
    ``keyed`` does not verify (migration ``b3c4d5e6f7a8`` re-signed the one row kept so
    far)."""
    return hmac.new(checkpoint_key(), f"keyed:{seq}:{chain_hash}".encode("ascii"),
                    hashlib.sha256).hexdigest()


def event_signer() -> "hmac.HMAC":
    """An HMAC-SHA256 with :func:`checkpoint_key`, keyed once: :func:`event_mac` copies it
    for each event (a dues run writes 40,000)."""
    return hmac.new(checkpoint_key(), digestmod=hashlib.sha256)


def event_mac(chain_hash: str, signer: "hmac.HMAC | None" = None) -> str:
    """An audit event's MAC: HMAC-SHA256 over its hash with :func:`checkpoint_key`."""
    mac = (signer or event_signer()).copy()
    mac.update(chain_hash.encode("ascii"))
    return mac.hexdigest()


def start_keyed_chain(conn: sa.Connection, seq: int, chain_hash: str) -> None:
    """Record, on ``conn``, that the events after ``seq`` carry MACs: a signed checkpoint
    (:attr:`CheckpointReason.KEYED`) at the chain's head when a chain starts or when the
    upgrade that brought event MACs runs."""
    conn.execute(sa.insert(AuditCheckpoint.__table__).values(
        seq=seq, chain_hash=chain_hash, mac=keyed_mac(seq, chain_hash), made_at=utcnow(),
        why=CheckpointReason.KEYED, day=None, label=None))


def keyed_start() -> int | None:
    """The position after which every event must carry a MAC: the first signed keyed
    checkpoint's (None: there is none, it was deleted or forged, or it is a copy of
    another checkpoint: :func:`keyed_mac`)."""
    rows = db.session.execute(
        sa.select(AuditCheckpoint.seq, AuditCheckpoint.chain_hash, AuditCheckpoint.mac)
        .where(AuditCheckpoint.why == CheckpointReason.KEYED)
        .order_by(AuditCheckpoint.seq, AuditCheckpoint.id))
    return next((row.seq for row in rows if Mark(*row, keyed=True).signed()), None)


def any_checkpoint() -> bool:
    return db.session.scalar(sa.select(AuditCheckpoint.id).limit(1)) is not None


def _head() -> tuple[int, str]:
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one_or_none()
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


def check_before_signing() -> None:
    """The quick check, with MACs, from the last signed checkpoint to the head, and the
    head row on the last event: the app signs only a chain it finds whole, never whatever
    head the database holds.

    Raises:
        TrailBroken: with the first problem found.
    """
    from association.audit.verification import verify_since_last_checkpoint

    quick = verify_since_last_checkpoint()
    if quick.checkpoint_forged:
        raise TrailBroken(f"the last checkpoint (at event {quick.chain.since_seq or 0}) does "
                          f"not carry this installation's signature")
    if not quick.chain.ok:
        raise TrailBroken(f"event {quick.chain.bad_seq}: {quick.chain.reason}")


def make_checkpoint(why: str = CheckpointReason.MANUAL, label: str | None = None
                    ) -> AuditCheckpoint:
    """Sign the chain's head as it stands (committed) and keep the checkpoint, once the
    chain up to it is checked (:func:`check_before_signing`).

    Returns:
        The new checkpoint (flushed).

    Raises:
        TrailBroken: the chain is not whole: nothing is signed.
    """
    made_at = utcnow()  # before the head is read: made_at and seq go forward together
    check_before_signing()
    seq, chain_hash = _head()
    row = AuditCheckpoint(seq=seq, chain_hash=chain_hash, mac=checkpoint_mac(seq, chain_hash),
                          made_at=made_at, why=why, label=label)
    db.session.add(row)
    db.session.flush()
    return row


def daily_checkpoint(day: date | None = None) -> bool:
    """The day's checkpoint (Nairobi day), once: two workers at once make one.

    Returns:
        Whether this call made it.

    Raises:
        TrailBroken: the chain is not whole: nothing is signed.
    """
    day = day or today_in_nairobi()
    made_at = utcnow()
    check_before_signing()
    seq, chain_hash = _head()
    table = AuditCheckpoint.__table__
    made = db.session.scalar(
        upsert(db.session, table).values(
            seq=seq, chain_hash=chain_hash, mac=checkpoint_mac(seq, chain_hash),
            made_at=made_at, why=CheckpointReason.DAY, day=day, label=day.isoformat(),
        ).on_conflict_do_nothing(index_elements=["day"]).returning(table.c.id)
    )
    return made is not None


def has_daily_checkpoint(day: date) -> bool:
    return db.session.scalar(
        sa.select(sa.func.count(AuditCheckpoint.id)).where(AuditCheckpoint.day == day)) > 0


def stored_marks() -> list[Mark]:
    """Every stored checkpoint (one a day and one a month close: a few thousand at most)."""
    return [Mark(r.seq, r.chain_hash, r.mac, r.why == CheckpointReason.KEYED)
            for r in db.session.execute(
                sa.select(AuditCheckpoint.seq, AuditCheckpoint.chain_hash, AuditCheckpoint.mac,
                          AuditCheckpoint.why)
                .order_by(AuditCheckpoint.seq, AuditCheckpoint.id))]


def checkpoints_going_back() -> list[tuple[Mark, Mark]]:
    """Pairs of stored checkpoints (earlier made, later made) where the later one signs an
    earlier position: an old checkpoint put back in place of a newer one."""
    rows = db.session.execute(
        sa.select(AuditCheckpoint.seq, AuditCheckpoint.chain_hash, AuditCheckpoint.mac)
        .order_by(AuditCheckpoint.made_at, AuditCheckpoint.id))
    found, highest = [], None
    for row in rows:
        mark = Mark(*row)
        if highest is not None and mark.seq < highest.seq:
            found.append((highest, mark))
        if highest is None or mark.seq >= highest.seq:
            highest = mark
    return found


def last_checkpoint() -> AuditCheckpoint | None:
    return db.session.scalar(
        sa.select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(),
                                            AuditCheckpoint.id.desc()).limit(1))


def checkpoints_labelled(labels: list[str]) -> dict[str, AuditCheckpoint]:
    """The month-close checkpoint of each close label, signed (the periods page and the
    close report show each close's): a row of another kind, or one not signed with the
    key, is not a close's checkpoint."""
    if not labels:
        return {}
    rows = db.session.scalars(sa.select(AuditCheckpoint).where(
        AuditCheckpoint.label.in_(labels), AuditCheckpoint.why == CheckpointReason.MONTH_CLOSE)
        .order_by(AuditCheckpoint.id))
    return {row.label: row for row in rows
            if Mark(row.seq, row.chain_hash, row.mac).signed()}


#: The audit event a refused checkpoint leaves: (action, object type); its object id is
#: the close's label or the day.
REFUSED = ("checkpoint_refused", "audit_checkpoint")


def refused_labels(labels: list[str]) -> set[str]:
    """Which of these close labels had their checkpoint refused (the trail failed its
    check when the month was closed)."""
    if not labels:
        return set()
    return set(db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.action == REFUSED[0], AuditEvent.object_type == REFUSED[1],
        AuditEvent.object_id.in_(labels))))


def parse_marks(text: str) -> list[Mark]:
    """Every checkpoint line in ``text`` (a value, or a file holding some), in order."""
    return [Mark(int(seq), chain_hash, mac) for seq, chain_hash, mac in CHECKPOINT_RE.findall(text)]
