"""second factor: the count of wrong codes in a row, which locks the authenticator code

Revision ID: a7d8e9f0b1c2
Revises: 4d1b00c5e7a1
Create Date: 2026-12-07 13:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7d8e9f0b1c2'
down_revision = '4d1b00c5e7a1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('second_factor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wrong_codes', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('second_factor', schema=None) as batch_op:
        batch_op.drop_column('wrong_codes')
