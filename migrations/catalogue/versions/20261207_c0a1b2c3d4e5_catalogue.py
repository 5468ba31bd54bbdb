"""The catalogue: associations served, host administrators, access grants, the host's
M-Pesa inbox and its login limits.

Revision ID: c0a1b2c3d4e5
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "c0a1b2c3d4e5"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hosted_association",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("short", sa.String(6), nullable=False),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("host", sa.String(253), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("database_url", sa.String(500), nullable=True),
        sa.Column("schema_name", sa.String(63), nullable=True),
        sa.Column("uploads_dir", sa.String(500), nullable=True),
        sa.Column("mpesa_shortcode", sa.String(10), nullable=True),
        sa.Column("account_prefix", sa.String(10), nullable=True),
        sa.Column("callback_token_hash", sa.String(64), nullable=True),
        sa.Column("mpesa_credentials", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.Column("export_sha256", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosted_association")),
        sa.UniqueConstraint("short", name=op.f("uq_hosted_association_short")),
        sa.UniqueConstraint("slug", name=op.f("uq_hosted_association_slug")),
        sa.UniqueConstraint("host", name=op.f("uq_hosted_association_host")),
        sa.UniqueConstraint("callback_token_hash",
                            name=op.f("uq_hosted_association_callback_token_hash")),
    )
    op.create_index(op.f("ix_hosted_association_mpesa_shortcode"), "hosted_association",
                    ["mpesa_shortcode"])
    op.create_table(
        "host_admin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_admin")),
        sa.UniqueConstraint("username", name=op.f("uq_host_admin_username")),
    )
    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("host_admin_id", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["association_id"], ["hosted_association.id"],
                                name=op.f("fk_access_grant_association_id_hosted_association")),
        sa.ForeignKeyConstraint(["host_admin_id"], ["host_admin.id"],
                                name=op.f("fk_access_grant_host_admin_id_host_admin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
    )
    op.create_index(op.f("ix_access_grant_association_id"), "access_grant", ["association_id"])
    op.create_table(
        "host_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("shortcode", sa.String(20), nullable=True),
        sa.Column("account", sa.String(40), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(60), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_inbox")),
    )
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
    )
    op.create_index(op.f("ix_rate_limit_counter_expires_at"), "rate_limit_counter",
                    ["expires_at"])
    op.create_table(
        "worker_heartbeat",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.Column("last_batch_at", sa.DateTime(), nullable=True),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeat")),
    )


def downgrade():
    op.drop_table("worker_heartbeat")
    op.drop_table("rate_limit_counter")
    op.drop_table("host_inbox")
    op.drop_table("access_grant")
    op.drop_table("host_admin")
    op.drop_table("hosted_association")
