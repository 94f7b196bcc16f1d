"""webhook events: idempotency keys of the provider callbacks already applied

One table, ``webhook_events``: a Twilio status callback, an inbound SMS or one
event of a SendGrid Event Webhook batch is applied once; its key (provider ids
only, never personal data) is unique.

Revision ID: c5a1e2d30001
Revises: d6b2f3e40001
Create Date: 2026-11-29 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "c5a1e2d30001"
down_revision: str | None = "d6b2f3e40001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_key", sa.String(length=160), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_webhook_events_event_key")),
    )


def downgrade() -> None:
    op.drop_table("webhook_events")
