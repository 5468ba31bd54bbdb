"""meetings: meetings, minutes, resolutions, officials

Revision ID: 6f3c8d2a1e43
Revises: 5e2b7c1f0d32
Create Date: 2026-11-21 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6f3c8d2a1e43'
down_revision = '5e2b7c1f0d32'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
