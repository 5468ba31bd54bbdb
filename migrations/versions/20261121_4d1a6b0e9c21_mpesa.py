"""mpesa: requests, inbox, transactions, suspense

Revision ID: 4d1a6b0e9c21
Revises: af54254dca06
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4d1a6b0e9c21'
down_revision = 'af54254dca06'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
