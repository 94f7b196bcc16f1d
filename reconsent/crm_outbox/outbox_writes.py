"""The CRM webhooks' outbox: delivery rows written in the caller's transaction.

A change (a ledger event, an objection, a rights request) and the deliveries
telling the CRM about it commit together or not at all: a rolled-back change
leaves no delivery, and a committed one is never lost. When no endpoint is
subscribed (every deployment without a CRM) a change writes nothing and reads
nothing more: each process reads the tiny endpoint table at most every
:data:`SUBSCRIPTIONS_TTL` seconds. The rows carry the exact JSON that is
signed and sent (Standard Webhooks: ``{"type", "timestamp", "data"}``).
"""

from __future__ import annotations

import json
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select

from models import CrmWebhookDelivery, CrmWebhookEndpoint
from reconsent.kernel.crm_events import DeliveryState, EndpointState, matches

__all__ = [
    "DELIVERIES",
    "ENDPOINTS",
    "SUBSCRIPTIONS_TTL",
    "OutboxEvent",
    "Subscriptions",
    "enqueue",
    "forget_subscriptions",
    "subscriptions",
]

ENDPOINTS = cast(Table, CrmWebhookEndpoint.__table__)
DELIVERIES = cast(Table, CrmWebhookDelivery.__table__)
#: Endpoints that collect deliveries: enabled ones, and paused ones (sent when resumed).
_COLLECTING = (EndpointState.ENABLED.value, EndpointState.DISABLED.value)
_LIVE = select(ENDPOINTS.c.id, ENDPOINTS.c.events).where(ENDPOINTS.c.state.in_(_COLLECTING))


@dataclass(frozen=True)
class OutboxEvent:
    """One thing that happened, for the endpoints subscribed to its type."""

    event_type: str
    #: The person's pseudonymous subject id: deliveries keep their order per person.
    subject_key: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Subscriptions:
    """The collecting endpoints and their globs, read once per change."""

    endpoints: tuple[tuple[int, tuple[str, ...]], ...]

    def targets(self, event_type: str) -> list[int]:
        return [eid for eid, patterns in self.endpoints if matches(patterns, event_type)]

    def wants(self, event_type: str) -> bool:
        return any(matches(patterns, event_type) for _eid, patterns in self.endpoints)


#: How long a process trusts its last read of the endpoint table, in seconds: an
#: endpoint added, paused or removed by another process is seen by every writer within
#: this time (at once in the process that changed it: :func:`forget_subscriptions`).
SUBSCRIPTIONS_TTL = 5.0
_READ: weakref.WeakKeyDictionary[Engine, tuple[float, Subscriptions]] = weakref.WeakKeyDictionary()


def subscriptions(conn: Connection) -> Subscriptions:
    """The collecting endpoints: one ``SELECT`` of the endpoint table at most every
    :data:`SUBSCRIPTIONS_TTL` seconds per engine (no rows: nothing will be written)."""
    now = time.monotonic()
    cached = _READ.get(conn.engine)
    if cached is not None and now - cached[0] < SUBSCRIPTIONS_TTL:
        return cached[1]
    subs = Subscriptions(
        tuple(
            (eid, tuple(p for p in events.split(",") if p)) for eid, events in conn.execute(_LIVE)
        )
    )
    _READ[conn.engine] = (now, subs)
    return subs


def forget_subscriptions() -> None:
    """Read the endpoint table afresh at the next change (after this process changed it)."""
    _READ.clear()


def body_of(event: OutboxEvent, now: datetime) -> str:
    """The payload as sent: compact JSON with sorted keys (the bytes that are signed)."""
    return json.dumps(
        {"type": event.event_type, "timestamp": now.isoformat(), "data": event.data},
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )


def enqueue(
    conn: Connection, subs: Subscriptions, events: Sequence[OutboxEvent], now: datetime
) -> int:
    """Write one delivery per (event, subscribed endpoint), in one bulk ``INSERT``.

    Each event gets one ``webhook-id`` (``msg_<uuid>``), the same for every endpoint
    and every retry. Returns how many deliveries were written.
    """
    rows: list[dict[str, Any]] = []
    for event in events:
        targets = subs.targets(event.event_type)
        if not targets:
            continue
        msg_id = "msg_" + uuid.uuid4().hex
        body = body_of(event, now)
        rows.extend(
            {
                "webhook_id": msg_id,
                "endpoint_id": endpoint_id,
                "event_type": event.event_type,
                "subject_key": event.subject_key,
                "body": body,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in targets
        )
    for start in range(0, len(rows), 5000):
        conn.execute(insert(DELIVERIES), rows[start : start + 5000])
    return len(rows)
