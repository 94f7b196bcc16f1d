"""Creating a wave's requests from the classification, one way per database.

Both return the classification grouped by ``reason``, ``basis`` and the channel
blocks (``(reason, basis, block_email, block_sms, block_ivr, count)`` rows, for
the preflight) and how many requests this run created. Both skip people the
wave already asks (a retried planning pass), so planning is idempotent.

Both classify once into a temporary table, count from it and ``INSERT ...
SELECT`` the eligible rows from it.

- PostgreSQL: ``CREATE TEMPORARY TABLE ... ON COMMIT DROP AS`` (one bulk-written
  statement), one GROUP BY for every count, the insert counted through its
  ``RETURNING`` (psycopg reports -1 as the rowcount of ``INSERT ... SELECT``).
  Most of the insert's time is PostgreSQL's row-by-row foreign-key checks
  (two per request: the contact and the wave), which no statement shape avoids.
- SQLite: an in-memory temporary table and two narrow GROUP BYs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from models import Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.kernel.vocab import Channel, RequestStatus
from reconsent.planning.classification import ELIGIBLE, classify

Grouped = list[tuple[Any, ...]]

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
    """The new requests' columns, from the eligible rows of ``rows`` (CTE or table)."""
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
    if planned_before:  # a retried task: never the same person twice
        source = source.where(
            ~exists().where(
                WaveRequest.wave_id == wave.id, WaveRequest.contact_id == rows.c.contact_id
            )
        )
    return source


def _planned_before(session: Session, wave: Wave) -> bool:
    return session.scalar(select(exists().where(WaveRequest.wave_id == wave.id))) is True


def create_postgres(
    session: Session, wave: Wave, now: datetime, rpo_fresh: bool
) -> tuple[Grouped, int]:
    # Room for the hash aggregates and joins of this one transaction (the default
    # 4 MB spills a million-contact plan to disk several times). No JIT: compiling
    # the classification costs ~0.2 s at a million contacts and gains nothing back.
    session.execute(text("SET LOCAL work_mem = '128MB'"))
    session.execute(text("SET LOCAL jit = off"))
    planned_before = _planned_before(session, wave)
    scratch = _scratch_table()
    classified = classify(session, wave, now, rpo_fresh)
    session.execute(_CreateTempAs(scratch.name, select(classified)))
    if planned_before:  # the anti-join against the wave's requests wants real statistics
        session.execute(text(f"ANALYZE {scratch.name}"))
    keys = [scratch.c.reason, scratch.c.basis, *[scratch.c[f"block_{c.value}"] for c in Channel]]
    grouped = [tuple(r) for r in session.execute(select(*keys, func.count()).group_by(*keys))]
    created = (
        insert(WaveRequest)
        .from_select(_REQUEST_COLUMNS, _request_rows(wave, now, scratch, planned_before))
        .returning(WaveRequest.id)
        .cte("created")
    )
    count = session.scalar(select(func.count()).select_from(created)) or 0
    return grouped, count


class _CreateTempAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE name ON COMMIT DROP AS <select>`` (PostgreSQL): one
    statement, bulk-written, gone with the transaction even when it fails."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name = name
        self.query = query


@compiles(_CreateTempAs)
def _compile_create_temp_as(element: _CreateTempAs, compiler: Any, **kw: Any) -> str:
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.name} ON COMMIT DROP AS {query}"


def create_sqlite(
    session: Session, wave: Wave, now: datetime, rpo_fresh: bool
) -> tuple[Grouped, int]:
    # For this pass only: a 64 MB page cache (the bulk insert maintains the
    # indexes; the default is 2 MB). The scratch table lives in memory
    # (temp_store=MEMORY, set on every connection by reconsent.db).
    session.execute(text("PRAGMA cache_size=-65536"))
    planned_before = _planned_before(session, wave)
    scratch = _materialize(session, wave, now, rpo_fresh)
    blocks = [scratch.c[f"block_{c.value}"] for c in Channel]
    # Two narrow GROUP BYs are cheaper than one over every column: the channel
    # blocks only matter for the people who will be asked.
    grouped: Grouped = [
        (reason, None, None, None, None, count)
        for reason, count in session.execute(
            select(scratch.c.reason, func.count())
            .where(scratch.c.reason != ELIGIBLE)
            .group_by(scratch.c.reason)
        )
    ]
    grouped += [
        tuple(r)
        for r in session.execute(
            select(scratch.c.reason, scratch.c.basis, *blocks, func.count())
            .where(scratch.c.reason == ELIGIBLE)
            .group_by(scratch.c.reason, scratch.c.basis, *blocks)
        )
    ]
    count = select(func.count()).where(WaveRequest.wave_id == wave.id)
    before = (session.scalar(count) or 0) if planned_before else 0
    session.execute(
        insert(WaveRequest).from_select(
            _REQUEST_COLUMNS, _request_rows(wave, now, scratch, planned_before)
        )
    )
    created = (session.scalar(count) or 0) - before
    scratch.drop(session.connection())
    session.execute(text("PRAGMA cache_size=-2000"))  # the connection goes back to the pool
    return grouped, created


def _scratch_table() -> Table:
    """The classification's columns, under a fresh temporary table name."""
    columns: list[Column[Any]] = [
        Column("contact_id", Integer),
        Column("reason", String(40)),
        Column("basis", String(20)),
    ]
    columns += [Column(f"block_{c.value}", String(60)) for c in Channel]
    return Table(
        f"plan_scratch_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"]
    )


def _materialize(session: Session, wave: Wave, now: datetime, rpo_fresh: bool) -> Table:
    """Classify every contact once, into a temporary table the counts and the request
    creation both read (instead of classifying twice)."""
    scratch = _scratch_table()
    scratch.create(session.connection())
    classified = classify(session, wave, now, rpo_fresh)
    names = [c.name for c in scratch.columns]
    session.execute(insert(scratch).from_select(names, select(*[classified.c[n] for n in names])))
    return scratch
