"""rights desk: extensions, history, notices

Rights requests keep their extension (months, reason, when) and the reason of a
decline; ``rights_request_events`` is each request's history (received,
extended, closed, passed on to the CRM, a correction applied, a restriction
lifted); ``rights_notices`` holds the one message per request and action that
tells the person (unique: a retry never sends it twice).

Revision ID: c0a3e2f40015
Revises: e6b2a4d10001
Create Date: 2026-12-05 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "c0a3e2f40015"
down_revision: str | None = "e6b2a4d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rights_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rights_request_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "ivr", name="channel", native_enum=False, length=10),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["rights_request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_notices_rights_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_notices")),
        sa.UniqueConstraint(
            "rights_request_id", "action", name=op.f("uq_rights_notices_rights_request_id_action")
        ),
    )
    with op.batch_alter_table("rights_notices", schema=None) as batch_op:
        batch_op.create_index("ix_rights_notices_status", ["status"], unique=False)

    op.create_table(
        "rights_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rights_request_id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rights_request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_request_events_rights_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_events")),
    )
    with op.batch_alter_table("rights_request_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rights_request_events_request", ["rights_request_id", "id"], unique=False
        )

    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extension_months", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("extended_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("outcome_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.drop_column("outcome_reason")
        batch_op.drop_column("extended_at")
        batch_op.drop_column("extension_reason")
        batch_op.drop_column("extension_months")

    with op.batch_alter_table("rights_request_events", schema=None) as batch_op:
        batch_op.drop_index("ix_rights_request_events_request")

    op.drop_table("rights_request_events")
    with op.batch_alter_table("rights_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_rights_notices_status")

    op.drop_table("rights_notices")
