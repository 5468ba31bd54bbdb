"""keyed start signed apart: the keyed checkpoint re-signed with its own MAC construction,
one month-close checkpoint a label, and on PostgreSQL no new audit event without a MAC

Revision ID: b3c4d5e6f7a8
Revises: 9c6e7f3a2b16
Create Date: 2026-12-07 14:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3c4d5e6f7a8'
down_revision = '9c6e7f3a2b16'
branch_labels = None
depends_on = None

_INDEX = 'uq_audit_checkpoint_month_close_label'
_WHERE = sa.text("why = 'month_close'")


def _resign(old_sign, new_sign) -> None:
    """Re-sign the keyed checkpoint that migration 9c6e7f3a2b16 (or the chain's start)
    wrote: the first one by id whose MAC verifies under ``old_sign``. Only that row:
    a copy of another checkpoint relabelled 'keyed' later stays unsigned, and verify
    names it. Needs the checkpoint key: run with the app's environment."""
    import hmac

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, seq, chain_hash, mac FROM audit_checkpoint "
                                "WHERE why = 'keyed' ORDER BY id")).all()
    row = next((r for r in rows if isinstance(r.mac, str) and r.mac.isascii()
                and hmac.compare_digest(r.mac, old_sign(r.seq, r.chain_hash))), None)
    if row is None:
        return
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # checkpoints are append-only for the app; the owner runs the upgrade
        op.execute("ALTER TABLE audit_checkpoint DISABLE TRIGGER audit_checkpoint_append_only")
    conn.execute(sa.text("UPDATE audit_checkpoint SET mac = :m WHERE id = :i"),
                 {"m": new_sign(row.seq, row.chain_hash), "i": row.id})
    if postgres:
        op.execute("ALTER TABLE audit_checkpoint ENABLE TRIGGER audit_checkpoint_append_only")


def upgrade():
    from association.audit.checkpoints import checkpoint_mac, keyed_mac

    _resign(checkpoint_mac, keyed_mac)
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.create_index(_INDEX, ['label'], unique=True, sqlite_where=_WHERE,
                              postgresql_where=_WHERE)
    if op.get_bind().dialect.name == "postgresql":
        # New rows only (NOT VALID: the events from before 9c6e7f3a2b16 carry none): an
        # old app process still running during the upgrade cannot append an unkeyed event.
        op.execute("ALTER TABLE audit_event ADD CONSTRAINT audit_event_mac_required "
                   "CHECK (mac IS NOT NULL) NOT VALID")


def downgrade():
    from association.audit.checkpoints import checkpoint_mac, keyed_mac

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS audit_event_mac_required")
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(_INDEX, sqlite_where=_WHERE, postgresql_where=_WHERE)
    _resign(keyed_mac, checkpoint_mac)
