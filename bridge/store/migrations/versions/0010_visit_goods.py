"""visit goods: the products sold and materials used with each visit, where the booking system gives them

Kept on the visit as a JSON list (kind, title, quantity, amount, unit, external_id; numbers as decimal
strings), read with the visit in the one query the playbook's snapshot makes.

Revision ID: 0010_visit_goods
Revises: 0009_client_card
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_visit_goods"
down_revision = "0009_client_card"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("goods", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("goods")
