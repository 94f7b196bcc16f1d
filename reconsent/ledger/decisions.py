"""Recording what a person decided: consent choices and objections (no HTTP).

The portal and the IVR webhook both come here; the ledger
(:func:`reconsent.ledger.append.append_events`) writes the events.  Everything runs in
the caller's unit of work, so the events, the request's closing and a
suppression commit together or not at all.

Rules kept here:

* silence is never consent: an empty choice records nothing;
* only the wave's purposes can be answered;
* a decision is a new event, never an overwrite; the same form (same nonce)
  posted twice records one decision;
* a "no" to a purpose the person had given is a WITHDRAWN event (a change of
  mind, art. 7(3)); to one they had not, REFUSED; either bars asking about that
  purpose again, never the others (objections: :mod:`reconsent.ledger.objections`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    ConsentEvent,
    ConsentStatus,
    Contact,
    Notice,
    Purpose,
    Wave,
)
from reconsent.campaigns.notices import notice_for
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.db import among
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, RecordedEvent, append_events
from reconsent.ledger.decision_rows import Closing, DecisionTarget, close_requests, load_targets
from reconsent.ledger.objections import suppress_person_addresses

#: Who acts when a person decides for themselves.
SUBJECT_ACTOR = "subject"

__all__ = [
    "SUBJECT_ACTOR",
    "DecisionInput",
    "DecisionResult",
    "WaveCatalog",
    "decision_dedupe_key",
    "record_decision",
    "record_decisions",
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
class DecisionInput:
    """One person's answer to one request (see ``record_decision`` for the fields)."""

    request_id: int
    choices: Mapping[str, bool]
    method: CollectionMethod
    channel: Channel | None
    evidence: dict[str, Any]
    nonce: str | None
    attempt_id: int | None = None
    provider_message_id: str | None = None
    locale: str | None = None
    catalog: WaveCatalog | None = None


@dataclass
class _Prepared:
    given: DecisionInput
    target: DecisionTarget
    purposes: dict[str, Purpose]
    ref: NoticeRef
    language: str
    events: list[NewEvent]
    written: list[RecordedEvent] = field(default_factory=list)


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
    Raises ``DecisionError`` for an unknown request, an erased person or bad choices.
    """
    given = DecisionInput(
        request_id,
        choices,
        method,
        channel,
        evidence,
        nonce,
        attempt_id,
        provider_message_id,
        locale,
        catalog,
    )
    result = record_decisions(session, [given], ctx)[0]
    if isinstance(result, DecisionError):
        raise result
    return result


def record_decisions(
    session: Session,
    decisions: Sequence[DecisionInput],
    ctx: LedgerContext,
    targets: Mapping[int, DecisionTarget] | None = None,
) -> list[DecisionResult | DecisionError]:
    """Record many decisions in the caller's unit of work, with one statement per step
    (targets, ledger, closings) for all of them; the result of each, in order.

    A decision that cannot be recorded gets its ``DecisionError`` and writes
    nothing; the others are recorded.  Decisions later in the list see the
    earlier ones (the same nonce twice: the second is a replay).  ``targets``: the
    requests as the caller has just read them in this unit of work (by request id);
    otherwise they are read here.
    """
    if targets is None:
        targets = load_targets(session, [d.request_id for d in decisions])
    held = _given_now(session, [t.contact_id for t in targets.values()])
    results: list[DecisionResult | DecisionError | None] = [None] * len(decisions)
    prepared: list[tuple[int, _Prepared]] = []
    for index, given in enumerate(decisions):
        try:
            target = targets.get(given.request_id)
            prepared.append((index, _prepare(session, given, target, ctx, held)))
        except DecisionError as exc:
            results[index] = exc
    everything = [event for _, p in prepared for event in p.events]
    written = iter(append_events(session, everything, ctx))
    pending = next(written, None)
    for _, p in prepared:  # the written events come back in order, the skipped ones missing
        for event in p.events:
            if pending is not None and (
                event.dedupe_key is None or event.dedupe_key == pending.dedupe_key
            ):
                p.written.append(pending)
                pending = next(written, None)
    earlier = _earlier_events(session, [p for _, p in prepared if len(p.written) < len(p.events)])
    closings: list[Closing] = []
    closed: dict[int, RequestStatus] = {}
    for index, p in prepared:
        rows = (
            p.written
            if len(p.written) == len(p.events)
            else [earlier[e.dedupe_key] for e in p.events if e.dedupe_key in earlier]
        )
        code_of = {purpose.id: code for code, purpose in p.purposes.items()}
        found = {code_of[row.purpose_id]: row.state for row in rows}
        states = {code: found[code] for code in p.purposes if code in found}
        status = closed.get(p.target.request_id, p.target.status)
        any_given = any(state is ConsentState.GIVEN for state in states.values())
        if p.written and status is RequestStatus.ACTIVE:
            status = RequestStatus.CONFIRMED if any_given else RequestStatus.REFUSED
            closed[p.target.request_id] = status
            closings.append(Closing(p.target.request_id, status, p.given.channel, "answered"))
        elif p.written and status is RequestStatus.REFUSED and any_given:
            status = closed[p.target.request_id] = RequestStatus.CONFIRMED
            closings.append(
                Closing(
                    p.target.request_id,
                    status,
                    p.given.channel,
                    "answered",
                    from_status=RequestStatus.REFUSED,
                )
            )
        first = rows[0]
        results[index] = DecisionResult(
            request_id=p.target.request_id,
            states=states,
            notice=NoticeRef(
                first.notice_id, first.notice_version or p.ref.version, first.notice_digest
            ),
            language=first.language or p.language,
            occurred_at=first.occurred_at,
            replay=not p.written,
            request_status=status,
        )
    close_requests(session, closings, ctx.now)
    _suppress_refusals_of_everything(session, prepared, ctx)
    return [r for r in results if r is not None]


def _suppress_refusals_of_everything(
    session: Session, prepared: list[tuple[int, _Prepared]], ctx: LedgerContext
) -> None:
    """A person who said no to every purpose of the wave: their addresses are not asked
    again, under this contact or any other CRM id (a keyed-hash suppression per channel)."""
    for _, p in prepared:
        answered = {e.purpose.code: e.state for e in p.events}
        if (
            p.written
            and set(answered) == set(p.purposes)
            and not any(state is ConsentState.GIVEN for state in answered.values())
        ):
            contact = session.get(Contact, p.target.contact_id)
            if contact is not None:
                suppress_person_addresses(
                    session, contact, SuppressionReason.REFUSED_ALL, "decision:refused_all", ctx
                )


def _given_now(session: Session, contact_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(contact, purpose) pairs whose latest state is GIVEN: a "no" to one is a withdrawal."""
    if not contact_ids:
        return set()
    rows = session.execute(
        select(ConsentStatus.contact_id, ConsentStatus.purpose_id).where(
            among(session, ConsentStatus.contact_id, sorted(set(contact_ids))),
            ConsentStatus.state == ConsentState.GIVEN,
        )
    )
    return {(contact_id, purpose_id) for contact_id, purpose_id in rows}


def _prepare(
    session: Session,
    given: DecisionInput,
    target: DecisionTarget | None,
    ctx: LedgerContext,
    held: set[tuple[int, int]],
) -> _Prepared:
    if target is None:
        raise DecisionError(f"request {given.request_id} does not exist")
    if target.erased:
        raise DecisionError(f"request {given.request_id}: the contact was erased")
    catalog = given.catalog
    if catalog is None:
        language = language_of(given.locale or target.locale)
        wave = session.get(Wave, target.wave_id)
        assert wave is not None  # a foreign key
        notice_found = notice_for(session, wave.notice_version, language)
        if notice_found is None:
            raise DecisionError(f"notice {wave.notice_version!r} is not published")
        catalog = WaveCatalog(tuple(wave_purposes(session, wave_config(wave))), notice_found)
    purposes = {p.code: p for p in catalog.purposes}
    notice = catalog.notice
    wanted = validate_choices(given.choices, list(purposes))
    ref = NoticeRef(notice.id, notice.version, notice.digest)
    nonce = given.nonce
    events = [
        NewEvent(
            contact_id=target.contact_id,
            subject_id=target.subject_id,
            purpose=purposes[code],
            state=(
                ConsentState.GIVEN
                if choice
                else ConsentState.WITHDRAWN
                if (target.contact_id, purposes[code].id) in held
                else ConsentState.REFUSED
            ),
            occurred_at=ctx.now,
            method=given.method,
            actor=SUBJECT_ACTOR,
            channel=given.channel,
            language=notice.locale,
            notice=ref,
            wave_id=target.wave_id,
            request_id=target.request_id,
            attempt_id=given.attempt_id,
            provider_message_id=given.provider_message_id,
            evidence=dict(given.evidence),
            dedupe_key=decision_dedupe_key(nonce, code) if nonce else None,
        )
        for code, choice in wanted.items()
    ]
    return _Prepared(given, target, purposes, ref, notice.locale, events)


def _earlier_events(session: Session, replays: list[_Prepared]) -> dict[str, RecordedEvent]:
    """The ledger's view of the (partly) replayed decisions: their events by dedupe key."""
    keys = sorted({e.dedupe_key for p in replays for e in p.events if e.dedupe_key})
    found: dict[str, RecordedEvent] = {}
    for start in range(0, len(keys), 500):
        for event in session.scalars(
            select(ConsentEvent).where(ConsentEvent.dedupe_key.in_(keys[start : start + 500]))
        ):
            found[str(event.dedupe_key)] = RecordedEvent.of(event)
    return found
