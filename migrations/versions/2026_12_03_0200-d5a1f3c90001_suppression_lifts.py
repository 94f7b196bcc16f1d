"""append-only suppressions: a lift is a new row in suppression_lifts, never a delete

Until this revision an SMS START lifted a STOP by deleting the suppression (the
trigger logged it as ``lifted``). From here on ``suppressions`` refuses DELETE
as it refuses UPDATE and TRUNCATE, and a lift is a row of ``suppression_lifts``
naming the suppression (append-only too); a suppression is in force while no
lift names it. A trigger logs each lift in ``suppression_log`` (``lifted``), as
the owner (SECURITY DEFINER on PostgreSQL): the runtime role only reads the log.

Lifts recorded the old way are rebuilt from the log: the deleted suppression is
inserted again with its id, fields and time (without logging it twice) and a
lift row written with the time and source the log recorded, so the list, its
lifts and its log agree and ``reconsent ledger verify`` holds them to each other.
On PostgreSQL the log's triggers take the ledger writers' shared lock, so a signed
checkpoint (which takes it exclusively) also fixes the log up to its highest id.

Run ``reconsent db upgrade`` (with RECONSENT_DATABASE_OWNER_URL) to regrant the
runtime role: it loses DELETE on ``suppressions``.

Revision ID: d5a1f3c90001
Revises: b4c8e2f60001
Create Date: 2026-12-03 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from migrations.append_only import create_append_only_triggers, drop_append_only_triggers

revision: str = "d5a1f3c90001"
down_revision: str | None = "b4c8e2f60001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "suppression_id, contact_id, address_hash, channel, reason, source"
_REFUSED = "suppressions are never rewritten or deleted: a lift is a row of suppression_lifts"
_LIFT_LOG = (
    f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
    "SELECT 'lifted', s.id, s.contact_id, s.address_hash, s.channel, s.reason, "
    "NEW.source, NEW.lifted_at FROM suppressions s WHERE s.id = NEW.suppression_id"
)
#: The ledger writers' shared advisory lock (reconsent/ledger/append.py WRITERS_LOCK): a
#: checkpoint takes it exclusively, so every log id below its mark is committed.
_WRITING = "PERFORM pg_advisory_xact_lock_shared(1818584167, 1)"
#: Each lift the log recorded for a suppression that is no longer in the list.
_DELETED = (
    "FROM suppression_log l JOIN suppression_log a ON a.suppression_id = l.suppression_id "
    "AND a.action = 'added' WHERE l.action = 'lifted' "
    "AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.id = l.suppression_id)"
)


def upgrade() -> None:
    op.create_table(
        "suppression_lifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suppression_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("lifted_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["suppression_id"],
            ["suppressions.id"],
            name=op.f("fk_suppression_lifts_suppression_id_suppressions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_lifts")),
        sa.UniqueConstraint("suppression_id", name=op.f("uq_suppression_lifts_suppression_id")),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Rebuild the lifts recorded as deletes, without logging the re-insert as a new add.
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS suppressions_log_added")
        op.execute("DROP TRIGGER IF EXISTS suppressions_log_lifted")
    else:
        op.execute("ALTER TABLE suppressions DISABLE TRIGGER suppressions_logged")
    op.execute(
        "INSERT INTO suppressions (id, contact_id, address_hash, channel, reason, source, "
        "created_at) SELECT a.suppression_id, a.contact_id, a.address_hash, a.channel, "
        f"a.reason, a.source, a.at {_DELETED}"
    )
    op.execute(
        "INSERT INTO suppression_lifts (suppression_id, source, lifted_at) "
        "SELECT l.suppression_id, l.source, l.at FROM suppression_log l "
        "WHERE l.action = 'lifted' AND NOT EXISTS (SELECT 1 FROM suppression_lifts x "
        "WHERE x.suppression_id = l.suppression_id) ORDER BY l.id"
    )
    values = _values("NEW")
    if sqlite:
        op.execute(
            "CREATE TRIGGER suppressions_log_added AFTER INSERT ON suppressions BEGIN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('added', {values}, NEW.created_at); END"
        )
        op.execute(
            "CREATE TRIGGER suppressions_no_delete BEFORE DELETE ON suppressions BEGIN "
            f"SELECT RAISE(ABORT, '{_REFUSED}'); END"
        )
        op.execute(
            "CREATE TRIGGER suppression_lifts_logged AFTER INSERT ON suppression_lifts "
            f"BEGIN {_LIFT_LOG}; END"
        )
    else:
        op.execute("ALTER TABLE suppressions ENABLE TRIGGER suppressions_logged")
        op.execute(
            "CREATE OR REPLACE FUNCTION suppressions_log() RETURNS trigger LANGUAGE plpgsql "
            "SECURITY DEFINER SET search_path = public AS $$ BEGIN "
            "IF TG_OP = 'INSERT' THEN "
            f"{_WRITING}; "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('added', {values}, NEW.created_at); RETURN NEW; "
            "END IF; "
            f"RAISE EXCEPTION '{_REFUSED}'; END $$"
        )
        op.execute("DROP TRIGGER suppressions_logged ON suppressions")
        op.execute(
            "CREATE TRIGGER suppressions_logged AFTER INSERT ON suppressions "
            "FOR EACH ROW EXECUTE FUNCTION suppressions_log()"
        )
        op.execute(
            "CREATE TRIGGER suppressions_no_delete BEFORE DELETE ON suppressions "
            "FOR EACH ROW EXECUTE FUNCTION suppressions_log()"
        )
        op.execute(
            "CREATE FUNCTION suppression_lifts_log() RETURNS trigger LANGUAGE plpgsql "
            f"SECURITY DEFINER SET search_path = public AS $$ BEGIN {_WRITING}; {_LIFT_LOG}; "
            "RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER suppression_lifts_logged AFTER INSERT ON suppression_lifts "
            "FOR EACH ROW EXECUTE FUNCTION suppression_lifts_log()"
        )
    create_append_only_triggers(op, ["suppression_lifts"])


def downgrade() -> None:
    """Back to lifts as deletes: each lifted suppression is deleted again (the log
    already holds its lift, so the delete is not logged twice)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    drop_append_only_triggers(op, ["suppression_lifts"])
    if sqlite:
        for name in ("suppression_lifts_logged", "suppressions_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS suppression_lifts_logged ON suppression_lifts")
        op.execute("DROP FUNCTION IF EXISTS suppression_lifts_log()")
        op.execute("DROP TRIGGER IF EXISTS suppressions_no_delete ON suppressions")
        op.execute("DROP TRIGGER suppressions_logged ON suppressions")
    op.execute("CREATE TEMPORARY TABLE lifted_ids AS SELECT suppression_id FROM suppression_lifts")
    op.drop_table("suppression_lifts")
    op.execute("DELETE FROM suppressions WHERE id IN (SELECT suppression_id FROM lifted_ids)")
    op.execute("DROP TABLE lifted_ids")
    old = _values("OLD")
    if sqlite:
        op.execute(
            "CREATE TRIGGER suppressions_log_lifted AFTER DELETE ON suppressions BEGIN "
            f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
            f"VALUES ('lifted', {old}, strftime('%Y-%m-%d %H:%M:%f000', 'now')); END"
        )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION suppressions_log() RETURNS trigger LANGUAGE plpgsql "
        "SECURITY DEFINER SET search_path = public AS $$ BEGIN "
        "IF TG_OP = 'INSERT' THEN "
        f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
        f"VALUES ('added', {_values('NEW')}, NEW.created_at); RETURN NEW; "
        "ELSIF TG_OP = 'DELETE' THEN "
        f"INSERT INTO suppression_log (action, {_COLUMNS}, at) "
        f"VALUES ('lifted', {old}, now()); RETURN OLD; "
        "END IF; "
        "RAISE EXCEPTION 'suppressions are never rewritten: lift and add'; END $$"
    )
    op.execute(
        "CREATE TRIGGER suppressions_logged AFTER INSERT OR DELETE ON suppressions "
        "FOR EACH ROW EXECUTE FUNCTION suppressions_log()"
    )


def _values(row: str) -> str:
    return ", ".join(
        f"{row}.{c}" for c in ("id", "contact_id", "address_hash", "channel", "reason", "source")
    )
