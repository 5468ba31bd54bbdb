"""mpesa suspense in the books: the entries that move unidentified money, and refunds sent

Revision ID: 8b5e0f4c3a65
Revises: 7a4d9e3b2f54
Create Date: 2026-11-21 15:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b5e0f4c3a65'
down_revision = '7a4d9e3b2f54'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mpesa_transaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspense_entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cleared_entry_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('assigned_from_suspense_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('refund_code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('refunded_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_mpesa_transaction_suspense_entry_id_journal_entry'), 'journal_entry', ['suspense_entry_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_mpesa_transaction_cleared_entry_id_journal_entry'), 'journal_entry', ['cleared_entry_id'], ['id'])


def downgrade():
    with op.batch_alter_table('mpesa_transaction', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_mpesa_transaction_cleared_entry_id_journal_entry'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_mpesa_transaction_suspense_entry_id_journal_entry'), type_='foreignkey')
        batch_op.drop_column('refunded_on')
        batch_op.drop_column('refund_code')
        batch_op.drop_column('assigned_from_suspense_at')
        batch_op.drop_column('cleared_entry_id')
        batch_op.drop_column('suspense_entry_id')
