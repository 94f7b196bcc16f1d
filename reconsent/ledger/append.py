"""Appending to the consent ledger: events, their hash chain and the projection.

``append_events`` is the only writer of ``consent_events`` and
``consent_status``; it runs inside the caller's unit of work, so an event,
the state it changes and the CRM's ``consent.changed`` deliveries
(:mod:`reconsent.crm_outbox`) commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.crm_outbox.event_payloads import ConsentChange, enqueue_consent_changes
from reconsent.crm_outbox.outbox_writes import subscriptions
from reconsent.db import among_param, is_postgres
from reconsent.kernel.crm_events import EventType
from reconsent.kernel.notice_versions import base_version
from reconsent.kernel.rules.chain import CURRENT_VERSION, event_hash
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.evidence_sealing import EvidenceSealer


@dataclass(frozen=True)
class NoticeRef:
    id: int | None
    version: str
    digest: str | None


@dataclass(frozen=True)
class NewEvent:
    contact_id: int
    subject_id: str
    purpose: Purpose
    state: ConsentState
    occurred_at: datetime
    method: CollectionMethod
    actor: str
    channel: Channel | None = None
    language: str | None = None
    notice: NoticeRef | None = None
    wave_id: int | None = None
    request_id: int | None = None
    attempt_id: int | None = None
    provider_message_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    provable: bool = True
    source: str | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class LedgerContext:
    controller: str
    jurisdiction: str
    now: datetime
    #: The key that wraps the subjects' evidence keys (``Settings.evidence_wrapping_key``):
    #: identifying evidence is sealed with it; None refuses such evidence.
    evidence_key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RecordedEvent:
    """What callers read back of an event just written (plain values, no ORM object)."""

    id: int
    contact_id: int
    purpose_id: int
    state: ConsentState
    occurred_at: datetime
    expires_at: datetime | None
    language: str | None
    notice_id: int | None
    notice_version: str | None
    notice_digest: str | None
    provable: bool
    hash: str
    dedupe_key: str | None

    @classmethod
    def of(cls, event: ConsentEvent) -> RecordedEvent:
        return cls(**{name: getattr(event, name) for name in _RECORDED})


_RECORDED = tuple(RecordedEvent.__dataclass_fields__)


def expiry_for(purpose: Purpose, state: ConsentState, occurred_at: datetime) -> datetime | None:
    """A given consent lasts ``lifetime_months`` (30.44-day months); other states never expire."""
    if state is not ConsentState.GIVEN:
        return None
    return occurred_at + timedelta(days=round(purpose.lifetime_months * 30.44))


def append_events(
    session: Session, events: Sequence[NewEvent], ctx: LedgerContext
) -> list[RecordedEvent]:
    """Append events (skipping any whose ``dedupe_key`` is already recorded, or given
    earlier in ``events``) and update the projection. Returns the events actually
    written, in the order given.

    The writes are Core statements on the session's connection (built once,
    executed many): an ORM flush of a handful of rows costs more than the rows.
    Pending ORM changes are flushed first (an event may name a contact added
    just before); the returned events are plain values of the rows written,
    and projection rows already loaded in the session are expired.
    """
    session.flush()
    conn = session.connection()
    subjects = sorted({e.subject_id for e in events})
    if is_postgres(session):
        # First the writers' lock (shared; a checkpoint waits out every holder), then
        # serialise writers per subject (in a fixed order: no deadlocks) so two concurrent
        # decisions never fork a chain, and a double post sees the first one's dedupe key.
        conn.execute(_WRITING)
        conn.execute(_LOCKS, {"subjects": subjects})
    events = _drop_duplicates(conn, events)
    if not events:
        return []
    heads = _chain_heads(conn, subjects)
    sealer = EvidenceSealer.for_events(
        conn, ctx.evidence_key, ((e.subject_id, e.evidence) for e in events), ctx.now
    )
    rows: list[dict[str, Any]] = []
    for new in events:
        row = _build(new, ctx, heads.get(new.subject_id), sealer)
        heads[new.subject_id] = row["hash"]
        rows.append(row)
    conn.execute(insert(_EVENTS), rows)  # executemany: a short statement, pipelined
    ids: dict[str, int] = {}
    for start in range(0, len(rows), 500):
        chunk = [row["event_id"] for row in rows[start : start + 500]]
        ids.update(
            (event_id, key)
            for event_id, key in conn.execute(_event_ids(conn.dialect.name), {"ids": chunk})
        )
    written = [
        RecordedEvent(id=ids[row["event_id"]], **{name: row[name] for name in _RECORDED[1:]})
        for row in rows
    ]
    _project(session, conn, written)
    # The CRM's deliveries, in this same transaction (nothing when no CRM subscribes).
    subs = subscriptions(conn)
    if subs.wants(EventType.CONSENT_CHANGED):
        changes = [
            ConsentChange(row, recorded.id, new.purpose.code)
            for row, recorded, new in zip(rows, written, events, strict=True)
        ]
        enqueue_consent_changes(conn, subs, changes, ctx.now)
    return written


#: The writers' lock, in the two-key advisory space (apart from the subjects' one-key
#: locks): every writer holds it shared until it commits; ``ledger checkpoint`` takes it
#: exclusively for a moment, so no event below the checkpoint's mark is still uncommitted
#: (a sequence hands out ids before the inserts commit, in any order).
WRITERS_LOCK = "1818584167, 1"  # "ledg", 1
_WRITING = text("SELECT pg_advisory_xact_lock_shared(" + WRITERS_LOCK + ")")
#: One advisory lock per subject, taken one after the other in the order given.
_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(hashtext(s))) FROM"
    " (SELECT s FROM unnest(CAST(:subjects AS text[])) WITH ORDINALITY AS t(s, n)"
    " ORDER BY n) AS ordered"
)
_EVENTS = ConsentEvent.metadata.tables[ConsentEvent.__tablename__]
_STATUS = ConsentStatus.metadata.tables[ConsentStatus.__tablename__]


@cache
def _known_keys(dialect: str) -> Select[str | None]:
    return select(_EVENTS.c.dedupe_key).where(among_param(_EVENTS.c.dedupe_key, "keys", dialect))


@cache
def _heads(dialect: str) -> Select[str, str]:
    last_ids = (
        select(func.max(_EVENTS.c.id))
        .where(among_param(_EVENTS.c.subject_id, "subjects", dialect))
        .group_by(_EVENTS.c.subject_id)
    )
    return select(_EVENTS.c.subject_id, _EVENTS.c.hash).where(_EVENTS.c.id.in_(last_ids))


@cache
def _event_ids(dialect: str) -> Select[str, int]:
    """The ids the database gave the events just inserted, by ``event_id`` (a UUID)."""
    return select(_EVENTS.c.event_id, _EVENTS.c.id).where(
        among_param(_EVENTS.c.event_id, "ids", dialect)
    )


_PROJECTED = ("state", "occurred_at", "expires_at", "notice_version", "provable", "last_event_id")


@cache
def _upsert_status(dialect: str) -> Any:
    """Insert a (contact, purpose) state, or replace it unless the stored one is newer.

    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``: one statement, no read first
    (SQLite >= 3.24 and PostgreSQL share the syntax).
    """
    values: dict[str, Any] = {
        "contact_id": bindparam("contact_id"),
        "purpose_id": bindparam("purpose_id"),
    }
    values |= {name: bindparam(name) for name in _PROJECTED}
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_STATUS).values(values)
    return stmt.on_conflict_do_update(
        index_elements=[_STATUS.c.contact_id, _STATUS.c.purpose_id],
        set_={name: stmt.excluded[name] for name in _PROJECTED},
        where=stmt.excluded.occurred_at >= _STATUS.c.occurred_at,
    )


def _drop_duplicates(conn: Connection, events: Sequence[NewEvent]) -> list[NewEvent]:
    keys = [e.dedupe_key for e in events if e.dedupe_key]
    seen: set[str] = set()
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        found = conn.execute(_known_keys(conn.dialect.name), {"keys": chunk}).scalars()
        seen.update(k for k in found if k)
    kept: list[NewEvent] = []
    for event in events:
        if event.dedupe_key:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
        kept.append(event)
    return kept


def _chain_heads(conn: Connection, subjects: list[str]) -> dict[str, str]:
    heads: dict[str, str] = {}
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        rows = conn.execute(_heads(conn.dialect.name), {"subjects": chunk})
        heads.update({subject: digest for subject, digest in rows})
    return heads


def _build(
    new: NewEvent, ctx: LedgerContext, prev_hash: str | None, sealer: EvidenceSealer
) -> dict[str, Any]:
    """The row of one event, hashed with the current scheme and chained to ``prev_hash``
    (its identifying evidence sealed first: the hash covers the sealed form)."""
    event_id = str(uuid.uuid4())
    fields: dict[str, Any] = {
        "event_id": event_id,
        "subject_id": new.subject_id,
        "contact_id": new.contact_id,
        "purpose": new.purpose.code,
        "purpose_id": new.purpose.id,
        "state": new.state,
        "occurred_at": new.occurred_at,
        "recorded_at": ctx.now,
        "expires_at": expiry_for(new.purpose, new.state, new.occurred_at),
        "controller": ctx.controller,
        "jurisdiction": ctx.jurisdiction,
        "language": new.language,
        "notice_id": new.notice.id if new.notice else None,
        "notice_version": new.notice.version if new.notice else None,
        "notice_digest": new.notice.digest if new.notice else None,
        "method": new.method,
        "channel": new.channel,
        "actor": new.actor,
        "wave_id": new.wave_id,
        "request_id": new.request_id,
        "attempt_id": new.attempt_id,
        "provider_message_id": new.provider_message_id,
        "evidence": sealer.seal(new.subject_id, event_id, new.evidence),
        "provable": new.provable,
        "source": new.source,
        "dedupe_key": new.dedupe_key,
    }
    digest = event_hash(fields, prev_hash, CURRENT_VERSION)
    del fields["purpose"]
    fields.update(prev_hash=prev_hash, hash=digest, hash_version=CURRENT_VERSION)
    return fields


def _project(session: Session, conn: Connection, written: list[RecordedEvent]) -> None:
    """Fold the new events into ``consent_status`` (latest ``occurred_at`` wins)."""
    latest: dict[tuple[int, int], RecordedEvent] = {}
    for event in written:
        key = (event.contact_id, event.purpose_id)
        current = latest.get(key)
        if current is None or event.occurred_at >= current.occurred_at:
            latest[key] = event
    rows = [
        {
            "contact_id": contact_id,
            "purpose_id": purpose_id,
            **{name: getattr(event, name) for name in _PROJECTED[:-1]},
            # A spoken notice counts as the web notice it was read from (eligibility).
            "notice_version": event.notice_version and base_version(event.notice_version),
            "last_event_id": event.id,
        }
        for (contact_id, purpose_id), event in latest.items()
    ]
    conn.execute(_upsert_status(conn.dialect.name), rows)
    for key in latest:
        loaded = session.identity_map.get(session.identity_key(ConsentStatus, key))
        if loaded is not None:
            session.expire(loaded)
