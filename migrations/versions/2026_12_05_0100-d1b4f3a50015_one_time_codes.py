"""one_time_codes: the portal's one-time codes (issue 15)

A code sent to an address we hold, before access, download and erasure and
before the preference centre; only its keyed digest is stored.

Revision ID: d1b4f3a50015
Revises: e6b2a4d10001
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "d1b4f3a50015"
down_revision: str | None = "e6b2a4d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=43), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("email", "sms", "ivr", name="channel", native_enum=False, length=10),
            nullable=True,
        ),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("client_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_one_time_codes_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["wave_requests.id"],
            name=op.f("fk_one_time_codes_request_id_wave_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
        sa.UniqueConstraint("public_id", name=op.f("uq_one_time_codes_public_id")),
    )
    op.create_index("ix_one_time_codes_address", "one_time_codes", ["address_hash", "created_at"])
    op.create_index("ix_one_time_codes_client", "one_time_codes", ["client_hash", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_one_time_codes_client", table_name="one_time_codes")
    op.drop_index("ix_one_time_codes_address", table_name="one_time_codes")
    op.drop_table("one_time_codes")
