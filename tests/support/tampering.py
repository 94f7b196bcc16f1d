"""What an insider with the database's credentials can do to the ledger, for tests.

* PostgreSQL: the role that owns the tables (not the runtime role the suite and
  the product connect as: it may not) runs ``ALTER TABLE consent_events DISABLE
  TRIGGER USER``, edits, and enables them again (as the issue measured; a
  superuser could also ``SET session_replication_role = replica``).
* SQLite: the append-only triggers are schema entries of the file, so whoever
  can write the file drops them, edits, and creates them again (or edits the
  file's pages directly: nothing in the format can stop a writer).

``rewrite`` then covers the tracks: it recomputes every hash of a subject's
chain with the ledger's own hash function (no secret is needed), and
``resync_projection`` makes ``consent_status`` agree with the rewritten events,
so only something kept outside the database can tell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.db import make_engine
from reconsent.kernel.notice_versions import base_version
from reconsent.kernel.rules.chain import event_hash
from reconsent.ledger.verify import CHAIN_COLUMNS
from tests.support.postgres import owner_url

_EVENTS = ConsentEvent.metadata.tables[ConsentEvent.__tablename__]
_STATUS = ConsentStatus.metadata.tables[ConsentStatus.__tablename__]


@contextmanager
def unprotected(engine: Engine) -> Iterator[Connection]:
    """A transaction on ``consent_events`` with its append-only triggers out of the way,
    as the schema's owner."""
    owner = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    try:
        with owner.begin() as conn:
            yield from _unprotected(conn)
    finally:
        owner.dispose()


def _unprotected(conn: Connection) -> Iterator[Connection]:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE consent_events DISABLE TRIGGER USER"))
        yield conn
        conn.execute(text("ALTER TABLE consent_events ENABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER consent_events_no_update"))
        conn.execute(text("DROP TRIGGER consent_events_no_delete"))
        yield conn
        for action in ("UPDATE", "DELETE"):
            conn.execute(
                text(
                    f"CREATE TRIGGER consent_events_no_{action.lower()} BEFORE {action} "
                    "ON consent_events BEGIN SELECT RAISE(ABORT, "
                    "'consent_events is append-only'); END"
                )
            )


def rewrite(
    conn: Connection,
    subject_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> list[int]:
    """Apply ``change`` to each event of the subject (None: leave it) and recompute every
    hash of the chain from there on, as verify would. Returns the ids changed."""
    codes = {pid: code for pid, code in conn.execute(select(Purpose.id, Purpose.code))}
    rows = conn.execute(
        select(*CHAIN_COLUMNS)
        .where(ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.id)
    ).all()
    prev: str | None = None
    changed: list[int] = []
    rehashing = False
    for row in rows:
        fields = row._asdict()
        edits = change(dict(fields))
        if edits:
            fields.update(edits)
            rehashing = True
        if rehashing:
            fields["prev_hash"] = prev
            fields["hash"] = event_hash(
                {**fields, "purpose": codes[fields["purpose_id"]]}, prev, fields["hash_version"]
            )
            values = {k: v for k, v in fields.items() if k != "id"}
            conn.execute(update(_EVENTS).where(_EVENTS.c.id == row.id).values(values))
            changed.append(row.id)
        prev = fields["hash"]
    return changed


def resync_projection(conn: Connection, contact_id: int, purpose_id: int) -> None:
    """Make the (contact, purpose) state agree with its latest event (or remove it)."""
    latest = conn.execute(
        select(_EVENTS)
        .where(ConsentEvent.contact_id == contact_id, ConsentEvent.purpose_id == purpose_id)
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    key = (_STATUS.c.contact_id == contact_id) & (_STATUS.c.purpose_id == purpose_id)
    conn.execute(_STATUS.delete().where(key))
    if latest is not None:
        conn.execute(
            _STATUS.insert().values(
                contact_id=contact_id,
                purpose_id=purpose_id,
                state=latest.state,
                occurred_at=latest.occurred_at,
                expires_at=latest.expires_at,
                notice_version=latest.notice_version and base_version(latest.notice_version),
                provable=latest.provable,
                last_event_id=latest.id,
            )
        )
