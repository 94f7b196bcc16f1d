"""key fingerprints: the address-hash key the stored hashes were made with

The first process that hashes an address records the key's fingerprint (an
HMAC of a fixed label under the key, never the key); a process with another
key is refused in one line instead of importing suppressions nobody matches.
On PostgreSQL the runtime role may read and insert, never change, a fingerprint.

Revision ID: a7c2e4f10001
Revises: d5a1f3c90001
Create Date: 2026-12-03 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "a7c2e4f10001"
down_revision: str | None = "d5a1f3c90001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
