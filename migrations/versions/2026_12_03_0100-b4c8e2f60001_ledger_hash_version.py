"""ledger v2: consent_events.hash_version

Every consent event stores the version of the hash scheme it was chained with
(``reconsent/kernel/rules/chain.py``): 1 for every event written before this
revision, 2 for new ones, so old chains still verify as v1.

Consent events are append-only (triggers refuse UPDATE and DELETE), and this
revision needs no UPDATE: ``ADD COLUMN ... NOT NULL DEFAULT 1`` gives every
existing row the value 1 from the catalog, in place, on PostgreSQL (11+: no
rewrite, no row trigger fires) and SQLite alike; the triggers stay in force.
On PostgreSQL the default is then dropped, so a writer that does not name the
version (code from before this revision) is refused instead of writing an
event that reads v1. On SQLite the constant default stays (dropping it would
mean rebuilding a table other tables reference); the application always
writes the version.

Downgrade drops the column, and refuses while v2 events exist (the code of
the revision before would read them as v1, and every one would fail to verify).

Revision ID: b4c8e2f60001
Revises: b3e9c1a70001
Create Date: 2026-12-03 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4c8e2f60001"
down_revision: str | None = "b3e9c1a70001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # In place (ALTER TABLE ... ADD COLUMN), also on SQLite: rebuilding consent_events
    # would break the foreign keys of consent_status.
    op.add_column(
        "consent_events",
        sa.Column("hash_version", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    if not sqlite:
        op.alter_column("consent_events", "hash_version", server_default=None)


def downgrade() -> None:
    v2 = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM consent_events WHERE hash_version <> 1"))
        .scalar_one()
    )
    if v2:
        raise RuntimeError(
            f"{v2} consent events are hashed with scheme v2: the revision before cannot verify them"
        )
    op.execute("ALTER TABLE consent_events DROP COLUMN hash_version")
