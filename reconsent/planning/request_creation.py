"""Creating a wave's requests from its classified contacts (the scratch table).

One ``INSERT ... SELECT`` of the eligible rows. A retried planning pass skips the
people the wave already asks (and the same-person groups already made everybody
else in their group a ``duplicate_person``), so planning is idempotent.

- PostgreSQL: the insert counted through its ``RETURNING`` (psycopg reports -1 as
  the rowcount of ``INSERT ... SELECT``). Most of its time is PostgreSQL's
  row-by-row foreign-key checks (two per request: the contact and the wave), which
  no statement shape avoids.
- SQLite: the wave's requests counted before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, Table, exists, func, insert, literal, null, select, text
from sqlalchemy.orm import Session

from models import Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.db import is_postgres
from reconsent.kernel.vocab import RequestStatus
from reconsent.planning.classification import ELIGIBLE

__all__ = ["create_requests"]

_REQUEST_COLUMNS = [
    "wave_id",
    "contact_id",
    "status",
    "basis",
    "step_index",
    "step_sent_at",
    "next_action_at",
    "created_at",
]


def _request_rows(wave: Wave, now: datetime, rows: Any, planned_before: bool) -> Select[Any]:
    """The new requests' columns, from the eligible rows of ``rows``."""
    source = select(
        literal(wave.id, Integer()),
        rows.c.contact_id,
        literal(RequestStatus.ACTIVE.value),
        rows.c.basis,
        literal(0, Integer()),
        null(),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(rows.c.reason == ELIGIBLE)
    # In contact order: the requests' indexes and foreign-key checks then walk their
    # b-trees in order (PostgreSQL's classification comes out in hash order: the
    # insert took ~1.8x as long). SQLite's scratch table is already in that order.
    source = source.order_by(rows.c.contact_id)
    if planned_before:  # a retried task: never the same person twice
        source = source.where(
            ~exists().where(
                WaveRequest.wave_id == wave.id, WaveRequest.contact_id == rows.c.contact_id
            )
        )
    return source


def create_requests(session: Session, wave: Wave, now: datetime, scratch: Table) -> int:
    """Insert the requests of the eligible rows of ``scratch``; how many were created."""
    planned_before = session.scalar(select(exists().where(WaveRequest.wave_id == wave.id)))
    rows = _request_rows(wave, now, scratch, planned_before is True)
    if is_postgres(session):
        if planned_before:  # the anti-join against the wave's requests wants real statistics
            session.execute(text(f"ANALYZE {scratch.name}"))
        created = (
            insert(WaveRequest)
            .from_select(_REQUEST_COLUMNS, rows)
            .returning(WaveRequest.id)
            .cte("created")
        )
        return session.scalar(select(func.count()).select_from(created)) or 0
    count = select(func.count()).where(WaveRequest.wave_id == wave.id)
    before = (session.scalar(count) or 0) if planned_before else 0
    session.execute(insert(WaveRequest).from_select(_REQUEST_COLUMNS, rows))
    return (session.scalar(count) or 0) - before
