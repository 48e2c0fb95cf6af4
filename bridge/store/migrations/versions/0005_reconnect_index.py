"""reconnect indexes

The Reconnect scan (bridge/store/reconnect.py) asks two questions of the whole store on every run:
which clients have a booking still to come (a partial index holds only scheduled/confirmed bookings,
so it stays small), and under which categories each service was recorded (an index the
services-by-category grouping reads without touching the table).

Revision ID: 0005_reconnect
Revises: 0004_prepayments
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_reconnect"
down_revision = "0004_prepayments"
branch_labels = None
depends_on = None

UPCOMING = sa.text("status IN ('scheduled', 'confirmed')")


def upgrade() -> None:
    op.create_index("ix_visits_upcoming", "visits", ["tenant", "start_at", "client_id"],
                    sqlite_where=UPCOMING, postgresql_where=UPCOMING)
    op.create_index("ix_visit_services_service", "visit_services", ["external_id", "category", "visit_id"])


def downgrade() -> None:
    op.drop_index("ix_visit_services_service", table_name="visit_services")
    op.drop_index("ix_visits_upcoming", table_name="visits")
