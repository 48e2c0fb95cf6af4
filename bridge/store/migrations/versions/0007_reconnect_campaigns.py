"""reconnect campaigns

One row per client a Reconnect campaign contacted about a category (seed 004): the automatic
follow-up and the results report (contacted, rebooked, revenue) read them.

Revision ID: 0007_reconnect_campaigns
Revises: 0006_catalog_branch
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_reconnect_campaigns"
down_revision = "0006_catalog_branch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconnect_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=False),
        sa.Column("branch", sa.String(length=64), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("message_keys", sa.JSON(), nullable=False),
        sa.Column("last_visit", sa.Date(), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("follow_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_state", sa.String(length=16), nullable=False),
        sa.Column("follow_up_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "key", name="uq_reconnect_contact_key"),
    )
    op.create_index("ix_reconnect_contacts_tenant_at", "reconnect_contacts", ["tenant", "contacted_at"])
    op.create_index(op.f("ix_reconnect_contacts_client_id"), "reconnect_contacts", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reconnect_contacts_client_id"), table_name="reconnect_contacts")
    op.drop_index("ix_reconnect_contacts_tenant_at", table_name="reconnect_contacts")
    op.drop_table("reconnect_contacts")
