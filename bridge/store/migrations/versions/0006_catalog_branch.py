"""service catalog cached per branch

The catalog is a cache of the booking system's services: it is dropped and rebuilt with the branch
(company id) in its key, and refilled from the booking system on the next miss of each branch.

Revision ID: 0006_catalog_branch
Revises: 0005_reconnect
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_catalog_branch"
down_revision = "0005_reconnect"
branch_labels = None
depends_on = None


def _catalog(*, per_branch: bool) -> None:
    key = ("tenant", "source", "company_id", "service_id") if per_branch else ("tenant", "source", "service_id")
    op.create_table(
        "service_catalog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        *([sa.Column("company_id", sa.String(length=64), nullable=False)] if per_branch else []),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*key, name="uq_catalog_branch_service" if per_branch else "uq_catalog_service"),
    )


def upgrade() -> None:
    op.drop_table("service_catalog")
    _catalog(per_branch=True)


def downgrade() -> None:
    op.drop_table("service_catalog")
    _catalog(per_branch=False)
