"""due index: clients.wake_at, and an index over the amoCRM backlog

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_clients_wake_at", ["wake_at"])
    op.create_index("ix_actions_state", "applied_actions", ["state", "tenant", "id"])
    # Every client with timed work is looked at once by the first tick, which then sets its real wake-up.
    op.execute(
        "UPDATE clients SET wake_at = '2000-01-01 00:00:00' WHERE id IN "
        "(SELECT client_id FROM cycles WHERE closed_at IS NULL UNION SELECT client_id FROM lost_steps)"
    )


def downgrade() -> None:
    op.drop_index("ix_actions_state", table_name="applied_actions")
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_wake_at")
        batch.drop_column("wake_at")
