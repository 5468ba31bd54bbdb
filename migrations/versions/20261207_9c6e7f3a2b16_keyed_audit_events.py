"""keyed audit events: a MAC on every new audit event, a signed checkpoint where the MACs
start, and on PostgreSQL audit_checkpoint refuses UPDATE and DELETE like the books

Revision ID: 9c6e7f3a2b16
Revises: a7d8e9f0b1c2
Create Date: 2026-12-07 13:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9c6e7f3a2b16'
down_revision = 'a7d8e9f0b1c2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))

    # The events written so far carry no MAC; every later one must. A checkpoint signed
    # at the head says from where (verify reports it missing), so stripping the MACs off
    # later events does not pass for an old chain. It needs the checkpoint key: run the
    # upgrade with the app's environment (flask db upgrade does).
    from association.audit.checkpoints import start_keyed_chain
    from association.audit.models import GENESIS_HASH

    conn = op.get_bind()
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    seq, chain_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    start_keyed_chain(conn, seq, chain_hash)

    if conn.dialect.name == "postgresql":
        # Checkpoints are appended (daily_checkpoint's ON CONFLICT DO NOTHING is an
        # insert): deleting one, or putting an older one in its place, is refused.
        op.execute("""
            CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE
            ON audit_checkpoint
            FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_checkpoint")
    # Events written while downgraded carry no MAC: an upgrade again keys from its own head.
    op.execute("DELETE FROM audit_checkpoint WHERE why = 'keyed'")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('mac')
