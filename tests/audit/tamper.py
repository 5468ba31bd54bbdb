"""Changing rows behind the app's back, as someone with the database owner's rights would.

On PostgreSQL the app's tables refuse UPDATE and DELETE of entries, postings and audit
events (triggers); the owner can switch triggers off for a session, which is what is
simulated here: the point of the tamper tests is that ``audit verify`` still sees it.
"""

import sqlalchemy as sa

from association.extensions import db


def tamper(sql: str, **params) -> None:
    """Run ``sql`` with the append-only triggers off, and commit."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.text(sql), params)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = origin"))
    db.session.commit()
