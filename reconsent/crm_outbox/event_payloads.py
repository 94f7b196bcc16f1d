"""What each CRM event says: ids, purposes, states and times; never an address or a name.

Builders for the three families of events (:mod:`reconsent.kernel.crm_events`),
each ending in :func:`reconsent.crm_outbox.outbox_writes.enqueue` in the
caller's transaction, and each a no-op when no endpoint wants its type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, select

from models import Contact, RightsRequest
from reconsent.crm_outbox.outbox_writes import OutboxEvent, Subscriptions, enqueue, subscriptions
from reconsent.db import among_param
from reconsent.kernel.crm_events import EventType

__all__ = [
    "ConsentChange",
    "enqueue_consent_changes",
    "enqueue_objection",
    "enqueue_rights_request",
]

CONTACTS = cast(Table, Contact.__table__)


@dataclass(frozen=True)
class ConsentChange:
    """One ledger event just written (the row ``append_events`` inserted)."""

    row: dict[str, Any]
    ledger_id: int
    purpose: str


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@cache
def _external_ids_of(dialect: str) -> Select[int, str]:
    """Built once per dialect (building and compiling it cost more than running it)."""
    return select(CONTACTS.c.id, CONTACTS.c.external_id).where(
        among_param(CONTACTS.c.id, "ids", dialect)
    )


def _external_ids(conn: Connection, contact_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(contact_ids))
    query = _external_ids_of(conn.dialect.name)
    found: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(query, {"ids": wanted[start : start + 500]})
        found.update({cid: ext for cid, ext in rows})
    return found


def enqueue_consent_changes(
    conn: Connection, subs: Subscriptions, changes: Sequence[ConsentChange], now: datetime
) -> int:
    """``consent.changed`` for each event (the caller checked ``subs`` wants it)."""
    if not changes:
        return 0
    external = _external_ids(conn, (c.row["contact_id"] for c in changes))
    events = []
    for change in changes:
        row = change.row
        method, channel = row["method"], row["channel"]
        events.append(
            OutboxEvent(
                EventType.CONSENT_CHANGED,
                row["subject_id"],
                {
                    "event_id": row["event_id"],
                    "ledger_sequence": change.ledger_id,
                    "subject_id": row["subject_id"],
                    "contact_id": row["contact_id"],
                    "external_id": external.get(row["contact_id"]),
                    "purpose": change.purpose,
                    "state": str(row["state"]),
                    "notice_version": row["notice_version"],
                    "collection_method": str(method),
                    "channel": None if channel is None else str(channel),
                    "occurred_at": _iso(row["occurred_at"]),
                    "expires_at": _iso(row["expires_at"]),
                    "recorded_at": _iso(row["recorded_at"]),
                    "wave_id": row["wave_id"],
                },
            )
        )
    return enqueue(conn, subs, events, now)


def enqueue_objection(
    conn: Connection,
    *,
    contact: Contact,
    reason: str,
    method: str,
    channel: str | None,
    withdrawn: Sequence[str],
    now: datetime,
) -> int:
    """``objection.recorded``: the person said "never contact me" (or asked for erasure)."""
    subs = subscriptions(conn)
    if not subs.wants(EventType.OBJECTION_RECORDED):
        return 0
    data = {
        "subject_id": contact.subject_id,
        "contact_id": contact.id,
        "external_id": contact.external_id,
        "reason": reason,
        "collection_method": method,
        "channel": channel,
        "withdrawn_purposes": list(withdrawn),
        "occurred_at": now.isoformat(),
    }
    event = OutboxEvent(EventType.OBJECTION_RECORDED, contact.subject_id, data)
    return enqueue(conn, subs, [event], now)


def enqueue_rights_request(
    conn: Connection,
    rows: Sequence[RightsRequest],
    event_type: EventType,
    now: datetime,
    subs: Subscriptions | None = None,
) -> int:
    """``rights.request.created`` / ``.completed`` / ``.declined`` for these requests
    (their kind, status and dates; never their details, which may hold a correction)."""
    subs = subs or subscriptions(conn)
    if not rows or not subs.wants(event_type):
        return 0
    external = _external_ids(conn, (r.contact_id for r in rows))
    events = [
        OutboxEvent(
            event_type,
            r.subject_id,
            {
                "request_id": r.id,
                "kind": r.kind.value,
                "status": r.status.value,
                "subject_id": r.subject_id,
                "contact_id": r.contact_id,
                "external_id": external.get(r.contact_id),
                "channel": r.channel.value if r.channel else None,
                "received_at": _iso(r.received_at),
                "due_at": _iso(r.due_at),
                "completed_at": _iso(r.completed_at),
            },
        )
        for r in rows
    ]
    return enqueue(conn, subs, events, now)
