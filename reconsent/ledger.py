"""Appending to the consent ledger: events, their hash chain and the projection.

``append_events`` is the only writer of ``consent_events`` and
``consent_status``; it runs inside the caller's unit of work, so an event and
the state it changes commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.db import is_postgres
from reconsent.rules.chain import event_hash
from reconsent.vocab import Channel, CollectionMethod, ConsentState


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


def expiry_for(purpose: Purpose, state: ConsentState, occurred_at: datetime) -> datetime | None:
    """A given consent lasts ``lifetime_months`` (30.44-day months); other states never expire."""
    if state is not ConsentState.GIVEN:
        return None
    return occurred_at + timedelta(days=round(purpose.lifetime_months * 30.44))


def append_events(
    session: Session, events: Sequence[NewEvent], ctx: LedgerContext
) -> list[ConsentEvent]:
    """Append events (skipping any whose ``dedupe_key`` is already recorded) and
    update the projection. Returns the events actually written."""
    subjects = sorted({e.subject_id for e in events})
    if is_postgres(session):
        # Serialise writers per subject (in a fixed order: no deadlocks) so two concurrent
        # decisions never fork a chain, and a double post sees the first one's dedupe key.
        for subject in subjects:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": subject})
    events = _drop_duplicates(session, events)
    if not events:
        return []
    heads = _chain_heads(session, subjects)
    written: list[ConsentEvent] = []
    for new in events:
        row = _build(new, ctx, heads.get(new.subject_id))
        heads[new.subject_id] = row.hash
        written.append(row)
    session.add_all(written)
    session.flush()
    _project(session, written)
    return written


def _drop_duplicates(session: Session, events: Sequence[NewEvent]) -> list[NewEvent]:
    keys = [e.dedupe_key for e in events if e.dedupe_key]
    seen: set[str] = set()
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        seen.update(
            session.scalars(
                select(ConsentEvent.dedupe_key).where(ConsentEvent.dedupe_key.in_(chunk))
            ).all()  # type: ignore[arg-type]
        )
    kept: list[NewEvent] = []
    for event in events:
        if event.dedupe_key:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
        kept.append(event)
    return kept


def _chain_heads(session: Session, subjects: list[str]) -> dict[str, str]:
    heads: dict[str, str] = {}
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        last_ids = (
            select(func.max(ConsentEvent.id))
            .where(ConsentEvent.subject_id.in_(chunk))
            .group_by(ConsentEvent.subject_id)
        )
        rows = session.execute(
            select(ConsentEvent.subject_id, ConsentEvent.hash).where(ConsentEvent.id.in_(last_ids))
        )
        heads.update({subject: digest for subject, digest in rows})
    return heads


def _build(new: NewEvent, ctx: LedgerContext, prev_hash: str | None) -> ConsentEvent:
    fields: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "subject_id": new.subject_id,
        "purpose": new.purpose.code,
        "state": new.state,
        "occurred_at": new.occurred_at,
        "expires_at": expiry_for(new.purpose, new.state, new.occurred_at),
        "controller": ctx.controller,
        "jurisdiction": ctx.jurisdiction,
        "language": new.language,
        "notice_version": new.notice.version if new.notice else None,
        "notice_digest": new.notice.digest if new.notice else None,
        "method": new.method,
        "channel": new.channel,
        "actor": new.actor,
        "wave_id": new.wave_id,
        "request_id": new.request_id,
        "attempt_id": new.attempt_id,
        "provider_message_id": new.provider_message_id,
        "evidence": new.evidence,
        "provable": new.provable,
        "source": new.source,
    }
    digest = event_hash(fields, prev_hash)
    del fields["purpose"]
    return ConsentEvent(
        **fields,
        contact_id=new.contact_id,
        purpose_id=new.purpose.id,
        notice_id=new.notice.id if new.notice else None,
        recorded_at=ctx.now,
        dedupe_key=new.dedupe_key,
        prev_hash=prev_hash,
        hash=digest,
    )


def _project(session: Session, written: list[ConsentEvent]) -> None:
    """Fold the new events into ``consent_status`` (latest ``occurred_at`` wins)."""
    latest: dict[tuple[int, int], ConsentEvent] = {}
    for event in written:
        key = (event.contact_id, event.purpose_id)
        current = latest.get(key)
        if current is None or event.occurred_at >= current.occurred_at:
            latest[key] = event
    existing: dict[tuple[int, int], ConsentStatus] = {}
    keys = list(latest)
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        contact_ids = {c for c, _ in chunk}
        for row in session.scalars(
            select(ConsentStatus).where(ConsentStatus.contact_id.in_(contact_ids))
        ):
            existing[(row.contact_id, row.purpose_id)] = row
    for key, event in latest.items():
        status = existing.get(key)
        if status is None:
            session.add(
                ConsentStatus(
                    contact_id=event.contact_id,
                    purpose_id=event.purpose_id,
                    state=event.state,
                    occurred_at=event.occurred_at,
                    expires_at=event.expires_at,
                    notice_version=event.notice_version,
                    provable=event.provable,
                    last_event_id=event.id,
                )
            )
        elif event.occurred_at >= status.occurred_at:
            status.state = event.state
            status.occurred_at = event.occurred_at
            status.expires_at = event.expires_at
            status.notice_version = event.notice_version
            status.provable = event.provable
            status.last_event_id = event.id
