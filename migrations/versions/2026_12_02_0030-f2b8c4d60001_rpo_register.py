"""rpo register: consultations, registrations, the contract exemption

Revision ID: f2b8c4d60001
Revises: e7c3a9b10001
Create Date: 2026-12-02 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "f2b8c4d60001"
down_revision: str | None = "e7c3a9b10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rpo_consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consulted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("numbers", sa.Integer(), nullable=False),
        sa.Column("imported_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rpo_consultations")),
    )
    op.create_table(
        "rpo_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("registered_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["rpo_consultations.id"],
            name=op.f("fk_rpo_registrations_consultation_id_rpo_consultations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rpo_registrations")),
        sa.UniqueConstraint(
            "consultation_id",
            "phone_hash",
            name=op.f("uq_rpo_registrations_consultation_id_phone_hash"),
        ),
    )
    op.create_index(
        "ix_rpo_registrations_phone_hash", "rpo_registrations", ["phone_hash"], unique=False
    )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("contract_exempt", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("contract_exempt")
    op.drop_index("ix_rpo_registrations_phone_hash", table_name="rpo_registrations")
    op.drop_table("rpo_registrations")
    op.drop_table("rpo_consultations")
