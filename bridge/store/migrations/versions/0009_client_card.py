"""client card: gender, card type, balance, blacklist, comments, acquisition source/UTM, reason

Also the booking's comment on each visit (it was parsed and dropped), and indexes the client
segments and reports read: a tenant's visits by start time, and per-client totals of completed visits
from the index alone.

Revision ID: 0009_client_card
Revises: 0008_users
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_client_card"
down_revision = "0008_users"
branch_labels = None
depends_on = None

def _client_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column("gender", sa.String(length=8), nullable=True),
        sa.Column("card_type", sa.String(length=64), nullable=True),
        sa.Column("balance", sa.Numeric(12, 2), nullable=True),
        sa.Column("blacklisted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("acquisition", sa.String(length=120), nullable=True),
        sa.Column("utm", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=120), nullable=True),
    )


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        for column in _client_columns():
            batch.add_column(column)
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("comment", sa.Text(), nullable=True))
    op.create_index("ix_visits_tenant_start", "visits", ["tenant", "start_at"])
    op.create_index("ix_visits_client_totals", "visits", ["tenant", "status", "client_id", "start_at", "total_price"])


def downgrade() -> None:
    op.drop_index("ix_visits_client_totals", table_name="visits")
    op.drop_index("ix_visits_tenant_start", table_name="visits")
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("comment")
    with op.batch_alter_table("clients") as batch:
        for column in reversed(_client_columns()):
            batch.drop_column(column.name)
