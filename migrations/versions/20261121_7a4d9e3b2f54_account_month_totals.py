"""account month totals: a trial balance adds up months, not millions of postings

Revision ID: 7a4d9e3b2f54
Revises: 6f3c8d2a1e43
Create Date: 2026-11-21 12:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a4d9e3b2f54'
down_revision = '6f3c8d2a1e43'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_month_total',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('debit_cents', sa.BigInteger(), nullable=False),
    sa.Column('credit_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_account_month_total_account_id_account')),
    sa.PrimaryKeyConstraint('account_id', 'month', name=op.f('pk_account_month_total'))
    )
    # Books kept before this table existed: add them up once.
    if op.get_bind().dialect.name == 'postgresql':
        month = "CAST(date_trunc('month', e.entry_date) AS DATE)"
    else:
        month = "date(e.entry_date, 'start of month')"
    op.execute(
        "INSERT INTO account_month_total (account_id, month, debit_cents, credit_cents) "
        f"SELECT p.account_id, {month}, "
        "SUM(CASE WHEN p.side = 'debit' THEN p.amount_cents ELSE 0 END), "
        "SUM(CASE WHEN p.side = 'credit' THEN p.amount_cents ELSE 0 END) "
        "FROM posting p JOIN journal_entry e ON e.id = p.entry_id "
        f"GROUP BY p.account_id, {month}"
    )


def downgrade():
    op.drop_table('account_month_total')
