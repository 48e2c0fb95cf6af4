"""dashboard users

People who sign in to the dashboard: agency admins see every tenant, salon managers only theirs.
Passwords are stored as werkzeug scrypt hashes.

Revision ID: 0008_users
Revises: 0007_reconnect_campaigns
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_users"
down_revision = "0007_reconnect_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", name="uq_dashboard_users_username"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_users")
