"""tamper-evident books: audit checkpoints, entry seals for the books already posted, and
on PostgreSQL triggers that refuse UPDATE and DELETE of entries, postings and audit events

Revision ID: 4d1b00c5e7a1
Revises: 5e2a11c0de02
Create Date: 2026-12-07 12:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '4d1b00c5e7a1'
down_revision = '5e2a11c0de02'
branch_labels = None
depends_on = None

#: Rows the app appends and never changes (audit_head moves: it is not here).
APPEND_ONLY = ("journal_entry", "posting", "audit_event")


def upgrade():
    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('chain_hash', sa.String(length=64), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.Column('why', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint')),
    sa.UniqueConstraint('day', name=op.f('uq_audit_checkpoint_day'))
    )
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_label'), ['label'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_seq'), ['seq'], unique=False)

    # Entries posted before seals existed are sealed from their postings as they stand,
    # chained like any event (actor "upgrade"), so that verify checks them from now on.
    from association.ledger.journal import seal_unsealed_entries

    seal_unsealed_entries(op.get_bind())

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION refuse_change_to_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% rows are never changed or deleted (% refused)',
                    TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$
        """)
        for table in APPEND_ONLY:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION refuse_change_to_append_only()
            """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS refuse_change_to_append_only()")
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoint_seq'))
        batch_op.drop_index(batch_op.f('ix_audit_checkpoint_label'))

    op.drop_table('audit_checkpoint')
