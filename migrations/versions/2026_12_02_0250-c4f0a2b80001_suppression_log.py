"""suppression log: the suppression list's append-only history, written by triggers

Every row added to ``suppressions`` is logged as ``added``, every row removed
(an SMS START lifting a STOP) as ``lifted``, by database triggers: the
application never writes the log, and on PostgreSQL the runtime role may only
read it (the trigger function runs as its owner, SECURITY DEFINER). Rewriting a
suppression (UPDATE) or emptying the list (TRUNCATE) is refused; the log itself
is append-only. ``reconsent ledger verify`` checks the list against it.
Existing suppressions are logged as added.

Revision ID: c4f0a2b80001
Revises: a1d5e7f20001
Create Date: 2026-12-02 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from migrations.append_only import create_append_only_triggers, drop_append_only_triggers

revision: str = "c4f0a2b80001"
down_revision: str | None = "a1d5e7f20001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "suppression_id, contact_id, address_hash, channel, reason, source"


def upgrade() -> None:
    op.create_table(
        "suppression_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("suppression_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_log")),
    )
    op.create_index("ix_suppression_log_suppression", "suppression_log", ["suppression_id"])
    op.execute(
        f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
        "SELECT 'added', id, contact_id, address_hash, channel, reason, source, created_at "
        "FROM suppressions ORDER BY id"
    )
    values = "NEW.id, NEW.contact_id, NEW.address_hash, NEW.channel, NEW.reason, NEW.source"
    lifted = "OLD.id, OLD.contact_id, OLD.address_hash, OLD.channel, OLD.reason, OLD.source"
    if op.get_bind().dialect.name == "sqlite":
        now = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
        op.execute(
            "CREATE TRIGGER suppressions_log_added AFTER INSERT ON suppressions BEGIN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('added', {values}, NEW.created_at); END"
        )
        op.execute(
            "CREATE TRIGGER suppressions_log_lifted AFTER DELETE ON suppressions BEGIN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('lifted', {lifted}, {now}); END"
        )
        op.execute(
            "CREATE TRIGGER suppressions_no_update BEFORE UPDATE ON suppressions BEGIN "
            "SELECT RAISE(ABORT, 'suppressions are never rewritten: lift and add'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION suppressions_log() RETURNS trigger LANGUAGE plpgsql "
            "SECURITY DEFINER SET search_path = public AS $$ BEGIN "
            "IF TG_OP = 'INSERT' THEN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('added', {values}, NEW.created_at); RETURN NEW; "
            "ELSIF TG_OP = 'DELETE' THEN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('lifted', {lifted}, now()); RETURN OLD; "
            "END IF; "
            "RAISE EXCEPTION 'suppressions are never rewritten: lift and add'; END $$"
        )
        op.execute(
            "CREATE TRIGGER suppressions_logged AFTER INSERT OR DELETE ON suppressions "
            "FOR EACH ROW EXECUTE FUNCTION suppressions_log()"
        )
        op.execute(
            "CREATE TRIGGER suppressions_no_update BEFORE UPDATE ON suppressions "
            "FOR EACH ROW EXECUTE FUNCTION suppressions_log()"
        )
        op.execute(
            "CREATE TRIGGER suppressions_no_truncate BEFORE TRUNCATE ON suppressions "
            "FOR EACH STATEMENT EXECUTE FUNCTION suppressions_log()"
        )
    create_append_only_triggers(op, ["suppression_log"])


def downgrade() -> None:
    drop_append_only_triggers(op, ["suppression_log"])
    if op.get_bind().dialect.name == "sqlite":
        for name in ("suppressions_log_added", "suppressions_log_lifted", "suppressions_no_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name in ("suppressions_logged", "suppressions_no_update", "suppressions_no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON suppressions")
        op.execute("DROP FUNCTION IF EXISTS suppressions_log()")
    op.drop_index("ix_suppression_log_suppression", table_name="suppression_log")
    op.drop_table("suppression_log")
