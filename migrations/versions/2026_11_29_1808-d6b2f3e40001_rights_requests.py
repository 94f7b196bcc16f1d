"""rights requests: data-subject requests (art. 15-21) with due dates, link renewals

One table, ``rights_requests``: access, portability, rectification, restriction,
objection, erasure and link-renewal requests made from the consent portal, each
with its due date (one month after receipt) and status.

Revision ID: d6b2f3e40001
Revises: bf602bd1c0bd
Create Date: 2026-11-29 18:08:24.072164
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "d6b2f3e40001"
down_revision: str | None = "bf602bd1c0bd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "access",
                "portability",
                "rectification",
                "restriction",
                "objection",
                "erasure",
                "link_renewal",
                name="rightskind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open", "completed", "declined", name="rightsstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("received_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "ivr", name="channel", native_enum=False, length=10),
            nullable=True,
        ),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_rights_requests_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["wave_requests.id"],
            name=op.f("fk_rights_requests_request_id_wave_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_rights_requests_dedupe_key")),
    )
    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.create_index("ix_rights_requests_contact", ["contact_id"], unique=False)
        batch_op.create_index("ix_rights_requests_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_rights_requests_due")
        batch_op.drop_index("ix_rights_requests_contact")

    op.drop_table("rights_requests")
