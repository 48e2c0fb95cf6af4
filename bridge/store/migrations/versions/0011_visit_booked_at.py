"""visit booked_at: when the booking was made in the booking system (YCLIENTS ``create_date``, a generic
event's ``created_at``), so the playbook can tell which of two bookings came first whatever order their
events were processed in.

Revision ID: 0011_visit_booked_at
Revises: 0010_visit_goods
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_visit_booked_at"
down_revision = "0010_visit_goods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("booked_at")
