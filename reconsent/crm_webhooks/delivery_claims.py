"""Claiming due CRM webhook deliveries, and writing back what each try got.

A claim is one ``WITH due AS (SELECT ... ORDER BY id LIMIT n) UPDATE ... WHERE
id IN (SELECT id FROM due)``
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, as the dispatcher's claims; on
SQLite the write lock is taken first, ``BEGIN IMMEDIATE``) that moves the rows
to DELIVERING under a fresh claim token, with a lease: two workers never hold
one delivery, and a worker that dies releases its claims when the lease ends.
A delivery is due when its time has come, its endpoint is enabled and no
earlier delivery of the same person to the same endpoint is still open
(pending or delivering): a person's deliveries go out one after the other, in
the order they were written. A result is written only under the claim's
token (a worker whose lease was taken over writes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, exists, func, select, update

from reconsent.crm_outbox.outbox_writes import DELIVERIES, ENDPOINTS
from reconsent.kernel.crm_events import OPEN_STATES, DeliveryState, EndpointState

__all__ = [
    "Claimed",
    "TryResult",
    "cancel_orphans",
    "claim_due",
    "write_results",
]

_OPEN = [s.value for s in OPEN_STATES]


@dataclass(frozen=True)
class Claimed:
    id: int
    webhook_id: str
    endpoint_id: int
    body: str
    attempts: int  # including this try
    first_attempt_at: datetime


@dataclass(frozen=True)
class TryResult:
    """What to write back of one claimed delivery."""

    id: int
    state: DeliveryState
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None = None
    #: False: the delivery was not tried (its endpoint failed earlier in the batch).
    tried: bool = True


def _due_ids(now: datetime, limit: int, lock: bool) -> Any:
    cand = DELIVERIES.alias("cand")
    earlier = DELIVERIES.alias("earlier")
    blocked = exists().where(
        earlier.c.endpoint_id == cand.c.endpoint_id,
        earlier.c.subject_key == cand.c.subject_key,
        earlier.c.id < cand.c.id,
        earlier.c.state.in_(_OPEN),
    )
    query = (
        select(cand.c.id)
        .join(ENDPOINTS, ENDPOINTS.c.id == cand.c.endpoint_id)
        .where(
            cand.c.state.in_(_OPEN),
            cand.c.next_attempt_at <= now,
            ENDPOINTS.c.state == EndpointState.ENABLED.value,
            ~blocked,
        )
        .order_by(cand.c.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=cand)
    # A CTE: run once (PostgreSQL materialises a locking one), never re-run per row
    # as an ``IN (subquery)`` may be, which would claim more than ``limit``.
    due = query.cte("due")
    return select(due.c.id)


def claim_due(
    engine: Engine, now: datetime, token: str, *, limit: int, lease: timedelta
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for ``token`` (committed before any is sent)."""
    postgres = engine.dialect.name == "postgresql"
    d = DELIVERIES.c
    stmt = (
        update(DELIVERIES)
        .where(
            d.id.in_(_due_ids(now, limit, postgres)),
            d.state.in_(_OPEN),
            d.next_attempt_at <= now,
        )
        .values(
            state=DeliveryState.DELIVERING.value,
            claim_token=token,
            next_attempt_at=now + lease,
            attempts=d.attempts + 1,
            first_attempt_at=func.coalesce(d.first_attempt_at, now),
            last_attempt_at=now,
        )
        .returning(d.id, d.webhook_id, d.endpoint_id, d.body, d.attempts, d.first_attempt_at)
    )
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        rows = conn.execute(stmt).all()
        conn.commit()
    claimed = [
        Claimed(r.id, r.webhook_id, r.endpoint_id, r.body, r.attempts, r.first_attempt_at)
        for r in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


_WRITE_BACK = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("v_id"), DELIVERIES.c.claim_token == bindparam("v_token"))
    .values(
        state=bindparam("v_state"),
        next_attempt_at=bindparam("v_next"),
        last_status=bindparam("v_status"),
        last_error=bindparam("v_error"),
        delivered_at=bindparam("v_delivered"),
        claim_token=None,
    )
)
#: A delivery released untried: its claim's try is not counted.
_RELEASE = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("v_id"), DELIVERIES.c.claim_token == bindparam("v_token"))
    .values(
        state=DeliveryState.PENDING.value,
        next_attempt_at=bindparam("v_next"),
        attempts=DELIVERIES.c.attempts - 1,
        claim_token=None,
    )
)


def write_results(engine: Engine, token: str, results: Sequence[TryResult]) -> None:
    """Write back a batch's results in one transaction (only rows this token still owns)."""
    tried = [
        {
            "v_id": r.id,
            "v_token": token,
            "v_state": r.state.value,
            "v_next": r.next_attempt_at,
            "v_status": r.last_status,
            "v_error": r.last_error,
            "v_delivered": r.delivered_at,
        }
        for r in results
        if r.tried
    ]
    untried = [
        {"v_id": r.id, "v_token": token, "v_next": r.next_attempt_at}
        for r in results
        if not r.tried
    ]
    with engine.begin() as conn:
        if tried:
            conn.execute(_WRITE_BACK, tried)
        if untried:
            conn.execute(_RELEASE, untried)


def cancel_orphans(engine: Engine) -> int:
    """Cancel the open deliveries of removed endpoints: a process that had not yet seen
    the removal (its endpoint read is a few seconds old) may have queued some."""
    d = DELIVERIES.c
    removed = select(ENDPOINTS.c.id).where(ENDPOINTS.c.state == EndpointState.REMOVED.value)
    with engine.begin() as conn:
        result = conn.execute(
            update(DELIVERIES)
            .where(d.endpoint_id.in_(removed), d.state.in_(_OPEN))
            .values(state=DeliveryState.CANCELLED.value, claim_token=None)
        )
    return int(result.rowcount or 0)
