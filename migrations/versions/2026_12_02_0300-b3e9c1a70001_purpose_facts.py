"""purpose facts: third-party sharing, sensitive and children flags, data categories,
recipients, retention

The catalog's facts per purpose, the source of the consent receipts (and of the
record of processing): ``third_party_sharing``, ``sensitive`` (GDPR art. 9) and
``children`` default to false, ``data_categories`` and ``recipients`` to an empty
list, ``retention`` (months kept after a refusal, a withdrawal or the expiry) to
NULL: not stated until the catalog is loaded again. Purposes are referenced by
the consent events, so on SQLite the columns are added in place (ALTER TABLE ...
ADD COLUMN), never by rebuilding the table.

Revision ID: b3e9c1a70001
Revises: c4f0a2b80001
Create Date: 2026-12-02 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3e9c1a70001"
down_revision: str | None = "c4f0a2b80001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = ("third_party_sharing", "sensitive", "children")
LISTS = ("data_categories", "recipients")


def upgrade() -> None:
    for name in FLAGS:
        op.add_column(
            "purposes", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    for name in LISTS:
        op.add_column(
            "purposes", sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    op.add_column("purposes", sa.Column("retention", sa.JSON(), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ too): rebuilding a table others reference breaks their keys.
    for name in ("retention", *reversed(LISTS), *reversed(FLAGS)):
        op.execute(f"ALTER TABLE purposes DROP COLUMN {name}")
