"""crm webhooks: the CRM's endpoints and the durable outbox of their deliveries

``crm_webhook_endpoints``: a URL, its event globs, its state and its signing
secret (encrypted by the application). ``crm_webhook_deliveries``: one row per
(event, endpoint), written in the transaction of the change itself, with the
exact body signed and sent; partial indexes over the deliveries still to send
(the due scan and the per-person order).

Revision ID: f7c3b5e20001
Revises: a7c2e4f10001
Create Date: 2026-12-03 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "f7c3b5e20001"
down_revision: str | None = "a7c2e4f10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("state IN ('pending', 'delivering')")
_UTC = models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crm_webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("secret_box", sa.String(length=200), nullable=True),
        sa.Column("secret_fingerprint", sa.String(length=8), nullable=True),
        sa.Column("previous_secret_box", sa.String(length=200), nullable=True),
        sa.Column("previous_until", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_webhook_endpoints")),
    )
    op.create_table(
        "crm_webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=40), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=False),
        sa.Column("first_attempt_at", _UTC, nullable=True),
        sa.Column("last_attempt_at", _UTC, nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", _UTC, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["crm_webhook_endpoints.id"],
            name=op.f("fk_crm_webhook_deliveries_endpoint_id_crm_webhook_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_webhook_deliveries")),
        sa.UniqueConstraint(
            "webhook_id",
            "endpoint_id",
            name=op.f("uq_crm_webhook_deliveries_webhook_id_endpoint_id"),
        ),
    )
    op.create_index(
        "ix_crm_webhook_deliveries_due",
        "crm_webhook_deliveries",
        ["next_attempt_at", "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index(
        "ix_crm_webhook_deliveries_order",
        "crm_webhook_deliveries",
        ["endpoint_id", "subject_key", "id"],
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
    op.create_index("ix_crm_webhook_deliveries_created", "crm_webhook_deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_crm_webhook_deliveries_created", table_name="crm_webhook_deliveries")
    op.drop_index("ix_crm_webhook_deliveries_order", table_name="crm_webhook_deliveries")
    op.drop_index("ix_crm_webhook_deliveries_due", table_name="crm_webhook_deliveries")
    op.drop_table("crm_webhook_deliveries")
    op.drop_table("crm_webhook_endpoints")
