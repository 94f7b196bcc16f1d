"""Every consent change after a cursor, and the next cursor: a CRM's incremental sync.

The cursor is the ledger's event id. On PostgreSQL a sequence hands ids out
before the inserts commit, in any order, so "the highest id I can see" is not
safe: a reader could pass an id that commits a moment later and never see it.
The high-water mark is taken as ``ledger checkpoint`` takes its mark
(:mod:`reconsent.ledger.checkpoints`): the writers' advisory lock
(:data:`reconsent.ledger.append.WRITERS_LOCK`, held shared by every writer until
it commits) is taken exclusively for a moment, so nothing at or below the mark is
still being written. SQLite has one writer at a time: the highest id is committed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models import ConsentEvent, Contact, Purpose
from reconsent.db import SessionSource, unit_of_work
from reconsent.kernel.spreadsheet import spreadsheet_safe
from reconsent.ledger.append import WRITERS_LOCK

__all__ = [
    "CHANGE_FIELDS",
    "Changes",
    "changes_since",
    "high_water",
    "to_csv",
    "to_jsonl",
]

#: The fields of one change (no address, no name: the CRM joins on external_id).
CHANGE_FIELDS = (
    "cursor",
    "event_id",
    "external_id",
    "subject_id",
    "purpose",
    "state",
    "occurred_at",
    "recorded_at",
    "method",
    "channel",
    "notice_version",
    "actor",
)
#: How long a reader waits for the writers in flight before it answers with what is safe.
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Changes:
    changes: list[dict[str, Any]]
    next_cursor: int


def high_water(source: SessionSource) -> int:
    """The highest event id below which nothing is still being written (its own short
    transaction: the writers wait only for the moment it takes)."""
    with unit_of_work(source) as session:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(" + WRITERS_LOCK + ")"))
        mark = conn.execute(select(func.coalesce(func.max(ConsentEvent.id), 0))).scalar_one()
    return int(mark)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def changes_since(source: SessionSource, since: int, limit: int) -> Changes:
    """At most ``limit`` changes with a cursor above ``since``, oldest first; the cursor
    to ask with next (the last returned, or the safe mark when nothing more is below it)."""
    mark = high_water(source)
    with unit_of_work(source) as session:
        rows = _rows(session, since, mark, limit)
    changes = [_change(row) for row in rows]
    full = len(changes) == limit
    next_cursor = changes[-1]["cursor"] if full else max(mark, since)
    return Changes(changes, int(next_cursor))


def _rows(session: Session, since: int, mark: int, limit: int) -> list[Any]:
    return list(
        session.execute(
            select(
                ConsentEvent.id,
                ConsentEvent.event_id,
                Contact.external_id,
                ConsentEvent.subject_id,
                Purpose.code,
                ConsentEvent.state,
                ConsentEvent.occurred_at,
                ConsentEvent.recorded_at,
                ConsentEvent.method,
                ConsentEvent.channel,
                ConsentEvent.notice_version,
                ConsentEvent.actor,
            )
            .join(Contact, Contact.id == ConsentEvent.contact_id)
            .join(Purpose, Purpose.id == ConsentEvent.purpose_id)
            .where(ConsentEvent.id > since, ConsentEvent.id <= mark)
            .order_by(ConsentEvent.id)
            .limit(limit)
        )
    )


def _change(row: Any) -> dict[str, Any]:
    return {
        "cursor": row.id,
        "event_id": row.event_id,
        "external_id": row.external_id,
        "subject_id": row.subject_id,
        "purpose": row.code,
        "state": row.state.value,
        "occurred_at": _iso(row.occurred_at),
        "recorded_at": _iso(row.recorded_at),
        "method": row.method.value,
        "channel": row.channel.value if row.channel else None,
        "notice_version": row.notice_version,
        "actor": row.actor,
    }


def _cell(value: Any) -> str:
    """The cell's text, with a leading quote when a spreadsheet would run it."""
    return spreadsheet_safe("" if value is None else str(value))


def to_csv(changes: Iterable[dict[str, Any]], header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CHANGE_FIELDS)
    for change in changes:
        writer.writerow([_cell(change[name]) for name in CHANGE_FIELDS])
    return out.getvalue()


def to_jsonl(changes: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False, sort_keys=True) + "\n" for c in changes)
