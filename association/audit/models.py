"""The append-only audit trail, chained by SHA-256."""

from datetime import date, datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from association.core.db import intpk
from association.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    """One write: who, when, which object, and its values before and after.

    ``hash`` is SHA-256 over ``prev_hash`` and the row's canonical content, so
    changing or deleting any row breaks the chain from that row on.
    """

    __tablename__ = "audit_event"

    id: Mapped[intpk]
    #: Position in the chain: 1, 2, 3 ... without gaps.
    seq: Mapped[int] = mapped_column(unique=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(index=True)
    #: The username, or "system"/"cli:<name>" when nobody was logged in.
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(60), index=True)
    object_id: Mapped[str | None] = mapped_column(String(40), index=True)
    #: Canonical JSON of the changed values before the write (null on create).
    before: Mapped[str | None] = mapped_column(Text)
    #: Canonical JSON of the changed values after the write (null on delete).
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: HMAC-SHA256 of ``hash`` with the checkpoint key (which lives in the environment):
    #: a row added or rewritten by someone without the key cannot carry it. Null only on
    #: events written before the upgrade that brought it (migration ``9c6e7f3a2b16``).
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(db.Model):
    """The chain's newest position and hash, one row.

    Writers lock this row before appending, which serialises appends on both
    SQLite and PostgreSQL; verification also compares it with the last event,
    so a deleted tail is found too.
    """

    __tablename__ = "audit_head"

    id: Mapped[intpk]
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class CheckpointReason:
    """Why a checkpoint was made (the ``why`` column)."""

    DAY = "day"
    MONTH_CLOSE = "month_close"
    MANUAL = "manual"
    #: Where the chain's events start carrying a MAC: at the head when the upgrade that
    #: brought event MACs ran, or at event 0 when a chain starts. Every event after it
    #: must carry a valid MAC, so stripping the MACs off the newer events is caught.
    KEYED = "keyed"


class AuditCheckpoint(db.Model):
    """The chain's position and hash at a moment, signed with a key that lives only in
    the environment (HMAC-SHA256), and printed for people to keep outside the database.

    Someone who can write the database can recompute every hash after a change, but
    cannot sign the new hash: a checkpoint they did not sign fails its MAC, and the chain
    recomputed after it no longer passes through the hash it signed.
    """

    __tablename__ = "audit_checkpoint"
    #: One checkpoint a month close: the close report takes its close's by label.
    __table_args__ = (
        Index("uq_audit_checkpoint_month_close_label", "label", unique=True,
              sqlite_where=text("why = 'month_close'"),
              postgresql_where=text("why = 'month_close'")),
    )
    # A record of the chain, not a write to the association's records: its MAC is its proof.
    __audited__ = False

    id: Mapped[intpk]
    seq: Mapped[int] = mapped_column(index=True)
    chain_hash: Mapped[str] = mapped_column(String(64))
    #: HMAC-SHA256 over "<seq>:<chain_hash>" with the checkpoint key; for the keyed
    #: checkpoint, over "keyed:<seq>:<chain_hash>" (``checkpoints.keyed_mac``).
    mac: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime]
    #: day / month_close / manual (:class:`CheckpointReason`).
    why: Mapped[str] = mapped_column(String(20))
    #: The Nairobi day of a daily checkpoint: one a day, whichever worker makes it.
    day: Mapped[date | None] = mapped_column(unique=True)
    #: What it marks, for people: the month closed ("2026-11 #3"), say.
    label: Mapped[str | None] = mapped_column(String(40), index=True)

    @property
    def value(self) -> str:
        """The printable one-line form (``AC1-<seq>-<hash>-<mac>``)."""
        return f"AC1-{self.seq}-{self.chain_hash}-{self.mac}"
