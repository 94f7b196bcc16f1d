"""A plan's classified contacts, once, in a temporary table (the scratch table).

:func:`classified` classifies every contact (reconsent.planning.classification),
applies the same-person groups (reconsent.planning.person_groups) and hands the
table to the preflight counts (:func:`counts`) and to request creation
(reconsent.planning.request_creation), so both read one classification.

- PostgreSQL: ``CREATE TEMPORARY TABLE ... ON COMMIT DROP AS`` (one bulk-written
  statement, gone with the transaction even when it fails), with room for the
  joins and aggregates (``work_mem``) and no JIT (compiling the classification
  costs ~0.2 s at a million contacts and gains nothing back); one GROUP BY for
  every count.
- SQLite: an in-memory temporary table keyed by contact id (the group members
  are looked up and updated by it), a 64 MB page cache for the pass, and two
  narrow GROUP BYs (the channel blocks only matter for the people who will be
  asked).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from models import Wave
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.db import is_postgres
from reconsent.kernel.vocab import Channel
from reconsent.planning.classification import ELIGIBLE, classify
from reconsent.planning.person_groups import apply_person_groups

__all__ = ["Grouped", "classified", "counts"]

#: ``(reason, basis, block_email, block_sms, block_ivr, count)`` rows, for the preflight.
Grouped = list[tuple[Any, ...]]


@contextmanager
def classified(session: Session, wave: Wave, now: datetime, rpo_fresh: bool) -> Iterator[Table]:
    """Every contact classified for ``wave``, same-person groups applied; dropped after."""
    postgres = is_postgres(session)
    if postgres:
        session.execute(text("SET LOCAL work_mem = '128MB'"))
        session.execute(text("SET LOCAL jit = off"))
    else:
        session.execute(text("PRAGMA cache_size=-65536"))  # temp_store=MEMORY: see reconsent.db
    scratch = _table(postgres)
    rows = classify(session, wave, now, rpo_fresh)
    names = [c.name for c in scratch.columns]
    query = select(*[rows.c[name] for name in names])
    if postgres:
        session.execute(_CreateTempAs(scratch.name, query))
    else:
        scratch.create(session.connection())
        session.execute(insert(scratch).from_select(names, query))
    apply_person_groups(session, scratch, wave, wave_purposes(session, wave_config(wave)))
    yield scratch  # on an error the rollback takes the table with it
    scratch.drop(session.connection())
    if not postgres:
        session.execute(text("PRAGMA cache_size=-2000"))  # the connection goes back to the pool


def counts(session: Session, scratch: Table) -> Grouped:
    """The classification grouped by reason, basis and channel blocks."""
    blocks = [scratch.c[f"block_{c.value}"] for c in Channel]
    if is_postgres(session):
        keys = [scratch.c.reason, scratch.c.basis, *blocks]
        return [tuple(r) for r in session.execute(select(*keys, func.count()).group_by(*keys))]
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
    return grouped


def _table(postgres: bool) -> Table:
    """The classification's columns, under a fresh temporary table name."""
    columns: list[Column[Any]] = [
        # SQLite: the rowid itself (members are found by it); PostgreSQL: CREATE AS.
        Column("contact_id", Integer, primary_key=not postgres),
        Column("reason", String(40)),
        Column("basis", String(20)),
    ]
    columns += [Column(f"block_{c.value}", String(60)) for c in Channel]
    columns.append(Column("every_suppressed", Boolean))
    return Table(
        f"plan_scratch_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"]
    )


class _CreateTempAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE name ON COMMIT DROP AS <select>`` (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name = name
        self.query = query


@compiles(_CreateTempAs)
def _compile_create_temp_as(element: _CreateTempAs, compiler: Any, **kw: Any) -> str:
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.name} ON COMMIT DROP AS {query}"
