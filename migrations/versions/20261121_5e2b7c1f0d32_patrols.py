"""patrols: shifts, rosters, attendance, stipends, incidents

Revision ID: 5e2b7c1f0d32
Revises: 4d1a6b0e9c21
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e2b7c1f0d32'
down_revision = '4d1a6b0e9c21'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
