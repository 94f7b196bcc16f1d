"""notice effective_from; contact municipality

``notices.effective_from``: when a notice version took effect (a consent captured
earlier cannot cite it). Published notices get their publish time. Notices are
append-only, so their triggers are lifted for that one UPDATE and put back in
the same transaction. On SQLite the column is added in place (rebuilding a table
that consent events reference would break their foreign keys), so it keeps a
constant server default, 9999-12-31: a row written without the app's value reads
"not in effect yet", never "always in effect". The app always writes the value.

``contacts.municipality``: the ISTAT municipality code (6 digits) of the person,
whose patron-saint day is a local holiday for the calling hours.

Revision ID: a1d5e7f20001
Revises: f2b8c4d60001
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from migrations.append_only import create_append_only_triggers, drop_append_only_triggers

revision: str = "a1d5e7f20001"
down_revision: str | None = "f2b8c4d60001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: SQLite only: what a row written without a value reads (never in effect).
SQLITE_NEVER = "9999-12-31 00:00:00.000000"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    column = sa.Column(
        "effective_from",
        models.base.UTCDateTime(timezone=True),
        nullable=not sqlite,
        server_default=sa.text(f"'{SQLITE_NEVER}'") if sqlite else None,
    )
    drop_append_only_triggers(op, ["notices"])
    op.add_column("notices", column)  # in place (ALTER TABLE ... ADD COLUMN), also on SQLite
    op.execute("UPDATE notices SET effective_from = published_at")
    if not sqlite:
        op.alter_column("notices", "effective_from", nullable=False)
    create_append_only_triggers(op, ["notices"])
    op.add_column("contacts", sa.Column("municipality", sa.String(length=6), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ too): rebuilding a table others reference breaks their keys.
    op.execute("ALTER TABLE contacts DROP COLUMN municipality")
    op.execute("ALTER TABLE notices DROP COLUMN effective_from")
