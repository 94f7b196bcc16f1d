"""pacing buckets: provider pacing shared by every dispatcher (workers on several machines)

Revision ID: a3b5c7d90018
Revises: f0a1b2c30017
Create Date: 2026-12-06 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3b5c7d90018"
down_revision: str | None = "f0a1b2c30017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pacing_buckets",
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_pacing_buckets")),
    )


def downgrade() -> None:
    op.drop_table("pacing_buckets")
