"""The dispatcher's reads and writes as SQLAlchemy Core: plain rows in, bulk statements out.

A batch reads a thousand requests with their contacts and writes back a few
columns per request; ORM entities (identity map, per-object dirty tracking,
per-object flushes) cost more than the rest of the claim. Here rows are read
as named tuples and changes are accumulated per row, then written as one
``UPDATE ... WHERE id IN (...)`` per set of identical values, or one
``executemany`` per set of changed columns.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, and_, bindparam, literal, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import Contact, SendAttempt, WaveRequest
from reconsent.db import among, insert_ignoring_conflicts, listed
from reconsent.dispatch.message_links import Recipient
from reconsent.eligibility.send_gate import Person
from reconsent.kernel.vocab import AttemptStatus, Channel, RequestBasis, RequestStatus

REQUESTS = cast(Table, WaveRequest.__table__)
ATTEMPTS = cast(Table, SendAttempt.__table__)
CONTACTS = cast(Table, Contact.__table__)


class DueRow(Person, Recipient, Protocol):
    """One due request and what the gate and the message need of its person.

    ``id`` is the contact's id (what the gate keys on); ``request_id`` the request's.
    """

    @property
    def request_id(self) -> int: ...
    @property
    def step_index(self) -> int: ...
    @property
    def step_sent_at(self) -> datetime | None: ...
    @property
    def basis(self) -> RequestBasis: ...
    @property
    def locale(self) -> str: ...


class Owned(Protocol):
    """An attempt a claim token owns."""

    @property
    def id(self) -> int: ...
    @property
    def request_id(self) -> int: ...
    @property
    def step_index(self) -> int: ...


class AttemptRow(Owned, Protocol):
    @property
    def status(self) -> AttemptStatus: ...
    @property
    def tries(self) -> int: ...
    @property
    def claimed_at(self) -> datetime: ...
    @property
    def next_retry_at(self) -> datetime | None: ...


def due(wave_id: int, now: datetime) -> ColumnElement[bool]:
    return and_(
        REQUESTS.c.wave_id == wave_id,
        REQUESTS.c.status == RequestStatus.ACTIVE,
        REQUESTS.c.next_action_at <= now,
    )


def due_rows(
    conn: Connection, wave_id: int, lo: int, hi: int, now: datetime, *, lock: bool
) -> list[DueRow]:
    """The due requests of ``lo..hi`` in id order; ``lock``: ``FOR UPDATE SKIP LOCKED``."""
    r, c = REQUESTS.c, CONTACTS.c
    query = (
        select(
            r.id.label("request_id"),
            r.step_index,
            r.step_sent_at,
            r.basis,
            c.id,
            c.email,
            c.phone,
            c.given_name,
            c.locale,
            c.timezone,
            c.email_hash,
            c.phone_hash,
            c.erased_at,
            c.restricted_at,
            c.customer_since,
            c.municipality,
        )
        .join_from(REQUESTS, CONTACTS, c.id == r.contact_id)
        .where(due(wave_id, now), r.id.between(lo, hi))
        .order_by(r.id)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=REQUESTS)
    return cast(list[DueRow], conn.execute(query).all())


def attempts_of(conn: Connection, request_ids: Sequence[int]) -> dict[int, dict[int, AttemptRow]]:
    """Request id -> step index -> its attempt."""
    a = ATTEMPTS.c
    found: dict[int, dict[int, AttemptRow]] = {}
    rows = conn.execute(
        select(
            a.id, a.request_id, a.step_index, a.status, a.tries, a.claimed_at, a.next_retry_at
        ).where(among(conn, a.request_id, request_ids))
    )
    for row in cast(list[AttemptRow], rows.all()):
        found.setdefault(row.request_id, {})[row.step_index] = row
    return found


class RowChanges:
    """Column values to write per row id of one table, written in few statements."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.rows: dict[int, dict[str, Any]] = {}

    def set(self, row_id: int, **values: Any) -> None:
        self.rows.setdefault(row_id, {}).update(values)

    def flush(self, conn: Connection) -> None:
        """Rows sharing the same values: one ``WHERE id IN``; the rest: one executemany
        per set of changed columns. Values must be hashable (they are: datetimes, enums,
        strings, numbers, None)."""
        same: dict[tuple[tuple[str, Hashable], ...], list[int]] = {}
        for row_id, changed in self.rows.items():
            same.setdefault(tuple(changed.items()), []).append(row_id)
        singles: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for items, ids in same.items():
            if len(ids) == 1:
                values = {f"v_{name}": value for name, value in items}
                singles.setdefault(tuple(name for name, _ in items), []).append(
                    {"v_id": ids[0], **values}
                )
                continue
            conn.execute(
                update(self.table).where(among(conn, self.table.c.id, ids)).values(dict(items))
            )
        for names, rows in singles.items():
            conn.execute(
                update(self.table)
                .where(self.table.c.id == bindparam("v_id"))
                .values({name: bindparam(f"v_{name}") for name in names}),
                rows,
            )
        self.rows.clear()


def insert_claims(
    session: Session,
    claims: Sequence[tuple[int, int, Channel, AttemptRow | None]],
    now: datetime,
    token: str,
) -> dict[int, Owned]:
    """Claim ``(request id, step, channel, existing attempt)`` for ``token``: a new
    attempt row (one ``INSERT ... SELECT`` over the listed ids per step, ignoring
    conflicts: the unique (request, step) makes a lost race a no-op), or a
    compare-and-set on the existing row (only the worker that saw the same state wins).

    Returns request id -> the attempt this token owns now (the claims it won).
    """
    fresh: dict[tuple[int, Channel], list[int]] = {}
    taken: list[dict[str, object]] = []
    for request_id, step, channel, existing in claims:
        if existing is None:
            fresh.setdefault((step, channel), []).append(request_id)
        else:
            taken.append(
                {"v_id": existing.id, "v_status": existing.status, "v_at": existing.claimed_at}
            )
    a = ATTEMPTS.c
    if taken:
        session.execute(
            update(ATTEMPTS)
            .where(
                a.id == bindparam("v_id"),
                a.status == bindparam("v_status"),
                a.claimed_at == bindparam("v_at"),
            )
            .values(status=AttemptStatus.CLAIMED, claimed_at=now, claim_token=token),
            taken,
        )
    for (step, channel), request_ids in fresh.items():
        rows = (
            listed(session, request_ids)
            .add_columns(
                literal(step),
                literal(channel.value),
                literal(AttemptStatus.CLAIMED.value),
                literal(0),
                literal(now, a.claimed_at.type),
                literal(token),
            )
            .where(true())
        )  # SQLite: INSERT ... SELECT ... ON CONFLICT needs a WHERE
        session.execute(
            insert_ignoring_conflicts(session, ATTEMPTS).from_select(
                [
                    "request_id",
                    "step_index",
                    "channel",
                    "status",
                    "tries",
                    "claimed_at",
                    "claim_token",
                ],
                rows,
            )
        )
    won = session.execute(
        select(a.id, a.request_id, a.step_index).where(
            among(session, a.request_id, [claim[0] for claim in claims]), a.claim_token == token
        )
    )
    return {row.request_id: row for row in cast(list[Owned], won.all())}
