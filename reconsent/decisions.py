"""Recording what a person decided: consent choices and objections (no HTTP).

The portal and the IVR webhook both come here; the ledger
(:func:`reconsent.ledger.append_events`) writes the events.  Everything runs in
the caller's unit of work, so the events, the request's closing and a
suppression commit together or not at all.

Rules kept here:

* silence is never consent: an empty choice records nothing;
* only the wave's purposes can be answered;
* a decision is a new event, never an overwrite; the same form (same nonce)
  posted twice records one decision;
* a refusal is a REFUSED event (the wave gate never asks again); an objection
  withdraws every given consent and adds a suppression.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from models import (
    ConsentEvent,
    ConsentStatus,
    Contact,
    Notice,
    Purpose,
    Suppression,
    Wave,
    WaveRequest,
)
from reconsent.errors import DecisionError
from reconsent.ledger import LedgerContext, NewEvent, NoticeRef, RecordedEvent, append_events
from reconsent.messages import language_of, notice_for
from reconsent.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.waves import wave_config, wave_purposes

#: Who acts when a person decides for themselves.
SUBJECT_ACTOR = "subject"

__all__ = [
    "SUBJECT_ACTOR",
    "DecisionResult",
    "WaveCatalog",
    "decision_dedupe_key",
    "record_decision",
    "record_objection",
    "validate_choices",
]


@dataclass(frozen=True)
class DecisionResult:
    """What the ledger holds for one decision (on a replay: what the first post recorded)."""

    request_id: int
    #: Purpose code -> state, in the wave's order.
    states: dict[str, ConsentState]
    notice: NoticeRef
    language: str
    occurred_at: datetime
    #: True when every event was already recorded by an earlier post of the same nonce.
    replay: bool
    #: The request's status after the decision (unchanged when it was already closed).
    request_status: RequestStatus


@dataclass(frozen=True)
class WaveCatalog:
    """A wave's purposes (in the wave's order) and the notice shown for one language."""

    purposes: Sequence[Purpose]
    notice: Notice


def decision_dedupe_key(nonce: str, purpose_code: str) -> str:
    return hashlib.sha256(f"{nonce}:{purpose_code}".encode()).hexdigest()


def validate_choices(choices: Mapping[str, bool], wave_codes: list[str]) -> dict[str, bool]:
    """The choices in the wave's order; raises ``DecisionError`` when empty or foreign."""
    if not choices:
        raise DecisionError("no explicit choice was made: nothing is recorded")
    unknown = sorted(set(choices) - set(wave_codes))
    if unknown:
        raise DecisionError(f"purpose(s) not asked by this wave: {', '.join(unknown)}")
    return {code: bool(choices[code]) for code in wave_codes if code in choices}


@dataclass(frozen=True)
class _Target:
    """The request a decision answers and its person, as plain values."""

    request_id: int
    status: RequestStatus
    wave_id: int
    contact_id: int
    subject_id: str
    locale: str


_REQUESTS = WaveRequest.metadata.tables[WaveRequest.__tablename__]
_CONTACTS = Contact.metadata.tables[Contact.__tablename__]


@cache
def _target_query() -> Any:
    return (
        select(
            _REQUESTS.c.status,
            _REQUESTS.c.wave_id,
            _CONTACTS.c.id,
            _CONTACTS.c.subject_id,
            _CONTACTS.c.locale,
            _CONTACTS.c.erased_at,
        )
        .join(_CONTACTS, _CONTACTS.c.id == _REQUESTS.c.contact_id)
        .where(_REQUESTS.c.id == bindparam("request_id"))
    )


def _load_target(session: Session, request_id: int) -> _Target:
    """One Core row (an ORM load of the request, wave and person costs more than the writes)."""
    found = session.connection().execute(_target_query(), {"request_id": request_id}).first()
    if found is None:
        raise DecisionError(f"request {request_id} does not exist")
    status, wave_id, contact_id, subject_id, locale, erased_at = found
    if erased_at is not None:
        raise DecisionError(f"request {request_id}: the contact was erased")
    return _Target(request_id, RequestStatus(status), wave_id, contact_id, subject_id, locale)


@cache
def _close_statement() -> Any:
    return (
        update(_REQUESTS)
        .where(_REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.status == bindparam("active"))
        .values(
            status=bindparam("status"),
            closed_at=bindparam("now"),
            answered_channel=bindparam("channel"),
            close_reason=bindparam("reason"),
        )
    )


def _close(
    session: Session,
    request_id: int,
    status: RequestStatus,
    channel: Channel | None,
    reason: str,
    now: datetime,
) -> bool:
    """Close the request when it is still active (one UPDATE); True when this closed it."""
    closed = session.connection().execute(
        _close_statement(),
        {
            "request_id": request_id,
            "active": RequestStatus.ACTIVE,
            "status": status,
            "now": now,
            "channel": channel,
            "reason": reason,
        },
    )
    loaded = session.identity_map.get(session.identity_key(WaveRequest, request_id))
    if loaded is not None:
        session.expire(loaded)
    return bool(closed.rowcount)


def record_decision(
    session: Session,
    *,
    request_id: int,
    choices: Mapping[str, bool],
    method: CollectionMethod,
    channel: Channel | None,
    evidence: dict[str, Any],
    nonce: str | None,
    ctx: LedgerContext,
    attempt_id: int | None = None,
    provider_message_id: str | None = None,
    locale: str | None = None,
    catalog: WaveCatalog | None = None,
) -> DecisionResult:
    """Record one GIVEN / REFUSED event per chosen purpose and close the request.

    ``choices`` maps purpose codes of the wave to True (given) or False
    (refused); it must not be empty.  ``locale`` is the language the notice
    was shown in (default: the contact's).  With a ``nonce``, posting the same
    decision again is a no-op reported as ``replay``.  ``catalog``: the wave's
    purposes and the notice shown, when the caller already holds them (the
    portal caches them per wave and language); otherwise they are read here.
    """
    target = _load_target(session, request_id)
    language = language_of(locale or target.locale)
    if catalog is None:
        wave = session.get(Wave, target.wave_id)
        assert wave is not None  # a foreign key
        notice_found = notice_for(session, wave.notice_version, language)
        if notice_found is None:
            raise DecisionError(f"notice {wave.notice_version!r} is not published")
        catalog = WaveCatalog(tuple(wave_purposes(session, wave_config(wave))), notice_found)
    purposes = {p.code: p for p in catalog.purposes}
    notice = catalog.notice
    wanted = validate_choices(choices, list(purposes))
    ref = NoticeRef(notice.id, notice.version, notice.digest)
    keys = {code: decision_dedupe_key(nonce, code) if nonce else None for code in wanted}
    events = [
        NewEvent(
            contact_id=target.contact_id,
            subject_id=target.subject_id,
            purpose=purposes[code],
            state=ConsentState.GIVEN if given else ConsentState.REFUSED,
            occurred_at=ctx.now,
            method=method,
            actor=SUBJECT_ACTOR,
            channel=channel,
            language=notice.locale,
            notice=ref,
            wave_id=target.wave_id,
            request_id=target.request_id,
            attempt_id=attempt_id,
            provider_message_id=provider_message_id,
            evidence=dict(evidence),
            dedupe_key=keys[code],
        )
        for code, given in wanted.items()
    ]
    written: Sequence[RecordedEvent] = append_events(session, events, ctx)
    rows = written
    if nonce is not None and len(written) != len(events):
        # The ledger's view: this post's events, or an earlier post's with the same nonce.
        rows = [
            RecordedEvent.of(event)
            for event in session.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.dedupe_key.in_([k for k in keys.values() if k]))
                .order_by(ConsentEvent.id)
            )
        ]
    code_of = {p.id: code for code, p in purposes.items()}
    states = {code_of[row.purpose_id]: row.state for row in rows}
    states = {code: states[code] for code in purposes if code in states}
    status = target.status
    if written:
        any_given = any(state is ConsentState.GIVEN for state in states.values())
        outcome = RequestStatus.CONFIRMED if any_given else RequestStatus.REFUSED
        if _close(session, target.request_id, outcome, channel, "answered", ctx.now):
            status = outcome
    first = rows[0]
    return DecisionResult(
        request_id=target.request_id,
        states=states,
        notice=NoticeRef(first.notice_id, first.notice_version or ref.version, first.notice_digest),
        language=first.language or notice.locale,
        occurred_at=first.occurred_at,
        replay=not written,
        request_status=status,
    )


def record_objection(
    session: Session,
    *,
    request_id: int | None,
    contact_id: int,
    method: CollectionMethod,
    channel: Channel | None,
    evidence: dict[str, Any],
    ctx: LedgerContext,
    reason: SuppressionReason = SuppressionReason.OBJECTION,
) -> None:
    """Art. 21 objection, "never call again" or one-click unsubscribe.

    Withdraws every purpose the contact has GIVEN, suppresses the contact on
    every channel (once per reason) and closes the open request as REFUSED.
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise DecisionError(f"contact {contact_id} does not exist")
    request: WaveRequest | None = None
    if request_id is not None:
        request = session.get(WaveRequest, request_id)
        if request is None or request.contact_id != contact_id:
            raise DecisionError(f"request {request_id} does not belong to contact {contact_id}")
    given = session.scalars(
        select(Purpose)
        .join(ConsentStatus, ConsentStatus.purpose_id == Purpose.id)
        .where(ConsentStatus.contact_id == contact_id, ConsentStatus.state == ConsentState.GIVEN)
        .order_by(Purpose.id)
    ).all()
    append_events(
        session,
        [
            NewEvent(
                contact_id=contact.id,
                subject_id=contact.subject_id,
                purpose=purpose,
                state=ConsentState.WITHDRAWN,
                occurred_at=ctx.now,
                method=method,
                actor=SUBJECT_ACTOR,
                channel=channel,
                language=language_of(contact.locale),
                wave_id=request.wave_id if request else None,
                request_id=request.id if request else None,
                evidence={**evidence, "reason": reason.value},
                source=f"objection:{reason.value}",
            )
            for purpose in given
        ],
        ctx,
    )
    already = session.scalar(
        select(Suppression.id)
        .where(Suppression.contact_id == contact_id, Suppression.reason == reason)
        .limit(1)
    )
    if already is None:
        session.add(
            Suppression(
                contact_id=contact_id,
                address_hash=None,
                channel=None,
                reason=reason,
                source=method.value,
                created_at=ctx.now,
            )
        )
    if request is not None:
        _close(session, request.id, RequestStatus.REFUSED, channel, reason.value, ctx.now)
    session.flush()
