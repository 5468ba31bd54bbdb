"""mpesa allowed phones: the numbers an official lets a member send prompts to; prompts
are counted by sender (rate limits)

Revision ID: 7a4c5e1f9b04
Revises: 3c9e5a7b1d20
Create Date: 2026-12-07 12:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a4c5e1f9b04'
down_revision = '3c9e5a7b1d20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mpesa_allowed_phone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('allowed_by_id', sa.Integer(), nullable=True),
    sa.Column('allowed_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['allowed_by_id'], ['user.id'], name=op.f('fk_mpesa_allowed_phone_allowed_by_id_user')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_mpesa_allowed_phone_member_id_member')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user.id'], name=op.f('fk_mpesa_allowed_phone_revoked_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mpesa_allowed_phone'))
    )
    with op.batch_alter_table('mpesa_allowed_phone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mpesa_allowed_phone_member_id'), ['member_id'], unique=False)
    with op.batch_alter_table('mpesa_stk_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mpesa_stk_request_requested_by_id'), ['requested_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('mpesa_stk_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mpesa_stk_request_requested_by_id'))
    with op.batch_alter_table('mpesa_allowed_phone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mpesa_allowed_phone_member_id'))
    op.drop_table('mpesa_allowed_phone')
