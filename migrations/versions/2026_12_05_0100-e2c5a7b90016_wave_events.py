"""wave events: the audit of pauses, resumes, cancels, approvals, edits, promotions

Revision ID: e2c5a7b90016
Revises: e6b2a4d10001
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "e2c5a7b90016"
down_revision: str | None = "e6b2a4d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wave_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["wave_id"], ["waves.id"], name=op.f("fk_wave_events_wave_id_waves")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wave_events")),
    )
    op.create_index("ix_wave_events_wave", "wave_events", ["wave_id", "id"], unique=False)
    # A wave waiting for its approval was a draft with a flag in its summary: now a status.
    op.execute(
        "UPDATE waves SET status = 'awaiting_approval' WHERE status = 'draft'"
        " AND plan_summary IS NOT NULL"
        " AND CAST(plan_summary AS TEXT) LIKE '%\"awaiting_approval\": true%'"
    )


def downgrade() -> None:
    op.execute("UPDATE waves SET status = 'draft' WHERE status = 'awaiting_approval'")
    op.execute("UPDATE waves SET status = 'running' WHERE status = 'paused'")
    op.drop_index("ix_wave_events_wave", table_name="wave_events")
    op.drop_table("wave_events")
