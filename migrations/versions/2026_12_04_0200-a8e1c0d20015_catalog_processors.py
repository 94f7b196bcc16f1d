"""catalog processors, and each purpose's processors and categories of data subjects

The record of processing (GDPR art. 30) is generated from the catalog in the
database: ``processors`` holds the catalog's processors (art. 28: name, service,
country, DPA, transfer mechanism and safeguards), and each purpose names the
processors it uses (``purposes.processors``, codes) and its categories of data
subjects (``purposes.data_subjects``); both default to an empty list until the
catalog is loaded again. Purposes are referenced by the consent events, so on
SQLite the columns are added in place, never by rebuilding the table.

Revision ID: a8e1c0d20015
Revises: e6b2a4d10001
Create Date: 2026-12-04 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "a8e1c0d20015"
down_revision: str | None = "e6b2a4d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTS = ("processors", "data_subjects")


def upgrade() -> None:
    op.create_table(
        "processors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("dpa_reference", sa.String(length=300), nullable=False),
        sa.Column("dpa_date", sa.Date(), nullable=True),
        sa.Column("transfer_mechanism", sa.String(length=16), nullable=False),
        sa.Column("safeguards", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("adapter", sa.String(length=16), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processors")),
        sa.UniqueConstraint("code", name=op.f("uq_processors_code")),
    )
    for name in LISTS:
        op.add_column(
            "purposes", sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    # In place (SQLite 3.35+ too): rebuilding a table others reference breaks their keys.
    for name in reversed(LISTS):
        op.execute(f"ALTER TABLE purposes DROP COLUMN {name}")
    op.drop_table("processors")
