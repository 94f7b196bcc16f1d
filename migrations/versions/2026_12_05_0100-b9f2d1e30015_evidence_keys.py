"""retention: evidence_keys (per-subject data keys for crypto-shredding)

One row per subject whose consent evidence carries identifying values: the
subject's AES-256 data key, wrapped by RECONSENT_EVIDENCE_KEY. Events from now
on are hashed with ledger scheme v3 (their identifying evidence sealed under
that key); older events keep their version and verify as before. Not an
append-only table: shredding nulls ``wrapped_key`` and sets ``shredded_at``.

Revision ID: b9f2d1e30015
Revises: e6b2a4d10001
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "b9f2d1e30015"
down_revision: str | None = "e6b2a4d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_keys",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shredded_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_evidence_keys")),
    )


def downgrade() -> None:
    v3 = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM consent_events WHERE hash_version = 3"))
        .scalar_one()
    )
    if v3:
        raise RuntimeError(
            f"{v3} consent events are hashed with scheme v3: the revision before cannot verify them"
        )
    op.drop_table("evidence_keys")
