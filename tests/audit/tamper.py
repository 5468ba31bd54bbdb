"""Changing rows behind the app's back, as someone with the database owner's rights would.

On PostgreSQL the app's tables refuse UPDATE and DELETE of entries, postings and audit
events (triggers); the owner can switch triggers off for a session, which is what is
simulated here: the point of the tamper tests is that ``audit verify`` still sees it.
"""

import sqlalchemy as sa

from association.audit.models import AuditEvent
from association.audit.services import _content, event_hash
from association.extensions import db


def owner_rights() -> None:
    """In the session's transaction on PostgreSQL, what the owner can do: the append-only
    triggers off, and the check that new audit events carry a MAC dropped (put back, NOT
    VALID, by :func:`restore_mac_check` before the commit)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        db.session.execute(sa.text(
            "ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_mac_required"))


def restore_mac_check() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = origin"))
        db.session.execute(sa.text("ALTER TABLE audit_event ADD CONSTRAINT "
                                   "audit_event_mac_required CHECK (mac IS NOT NULL) NOT VALID"))


def tamper(sql: str, **params) -> None:
    """Run ``sql`` with the owner's rights (:func:`owner_rights`), and commit."""
    owner_rights()
    db.session.execute(sa.text(sql), params)
    restore_mac_check()
    db.session.commit()


def rewrite_chain_from(seq: int, actor: str) -> None:
    """Name ``actor`` on event ``seq`` and recompute every later hash and the head with the
    app's own (unkeyed) SHA-256, as someone who read the code would (not the MACs: they
    need the key), with the owner's rights; commit."""
    rows = db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.seq >= seq - 1)
                              .order_by(AuditEvent.seq)).mappings().all()
    prev = rows[0]["hash"]
    owner_rights()
    for row in rows[1:]:
        row = dict(row)
        if row["seq"] == seq:
            row["actor"] = actor
        new = event_hash(prev, _content(row))
        db.session.execute(sa.text("UPDATE audit_event SET actor = :a, prev_hash = :p, "
                                   "hash = :h WHERE id = :i"),
                           {"a": row["actor"], "p": prev, "h": new, "i": row["id"]})
        prev = new
    db.session.execute(sa.text("UPDATE audit_head SET hash = :h"), {"h": prev})
    restore_mac_check()
    db.session.commit()
