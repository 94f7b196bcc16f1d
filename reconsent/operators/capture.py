"""What an agent heard on a call: a consent, a refusal, a withdrawal or an objection.

Each becomes ledger events with collection method ``operator`` through the
ledger's own writers (:func:`reconsent.ledger.append.append_events`,
:func:`reconsent.ledger.objections.record_objection`), in the caller's unit of
work; the evidence names the API key and the agent, the call and its recording,
and the notice or script version read to the person. An objection also
suppresses every address of the person by its keyed hash at once, so the next
contactability answer and every wave's gate see it.

A "no" to a purpose the person holds GIVEN is a withdrawal (art. 7(3)), to one
they do not, a refusal, whichever word the agent chose; every "no" takes the
hand-over lock first, as the other "no"s do (:func:`reconsent.db.hold_contacts`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Notice, Purpose
from reconsent.campaigns.notices import notice_for
from reconsent.db import hold_contacts
from reconsent.kernel.errors import ConflictError, DecisionError, NotFoundError
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, append_events
from reconsent.ledger.objections import record_objection
from reconsent.operators.api_keys import Caller
from reconsent.operators.contact_checks import CheckOptions, Lookup, lookup_key
from reconsent.operators.idempotency import Answer

__all__ = [
    "CallFacts",
    "consent_answer",
    "dedupe_key",
    "heard_state",
    "operator_event",
    "record_operator_choices",
    "record_operator_objection",
    "resolve_contact",
]


@dataclass(frozen=True)
class CallFacts:
    """Who recorded it, on which call: the evidence of every event of the request."""

    caller: Caller
    agent_id: str
    call_id: str | None = None
    recording_ref: str | None = None
    channel: Channel = Channel.IVR  # the channel the person was reached on

    def evidence(self, **extra: Any) -> dict[str, Any]:
        return {
            "api_key": {"id": self.caller.id, "name": self.caller.name},
            "agent_id": self.agent_id,
            "call_id": self.call_id,
            "recording_ref": self.recording_ref,
            **extra,
        }

    @property
    def actor(self) -> str:
        return f"operator:{self.agent_id}"[:64]


def resolve_contact(session: Session, lookup: Lookup, options: CheckOptions) -> Contact:
    """The one contact ``lookup`` names (an address several hold: name the external id)."""
    key = lookup_key(lookup, options)
    if key is None:
        raise DecisionError(f"the {lookup.kind} is not a valid address")
    found = list(
        session.scalars(select(Contact).where(getattr(Contact, key.column) == key.value).limit(2))
    )
    if not found:
        raise NotFoundError(f"no contact with that {lookup.kind}")
    if len(found) > 1:
        raise ConflictError(f"several contacts hold that {lookup.kind}: give the external_id")
    if found[0].erased_at is not None:
        raise DecisionError("the contact was erased: nothing can be recorded")
    return found[0]


def dedupe_key(idempotency: str | None, caller: Caller, code: str) -> str | None:
    if not idempotency:
        return None
    return hashlib.sha256(f"api:{caller.id}:{idempotency}:{code}".encode()).hexdigest()


def record_operator_choices(
    session: Session,
    contact: Contact,
    choices: Sequence[tuple[str, ConsentState]],
    *,
    notice_version: str,
    call: CallFacts,
    ctx: LedgerContext,
    idempotency: str | None = None,
) -> dict[str, ConsentState]:
    """One event per purpose (given, refused or withdrawn); the states recorded."""
    codes = [code for code, _ in choices]
    if not codes or len(set(codes)) != len(codes):
        raise DecisionError("name each purpose once, at least one")
    purposes = {p.code: p for p in session.scalars(select(Purpose).where(Purpose.code.in_(codes)))}
    unknown = sorted(set(codes) - set(purposes))
    if unknown:
        raise NotFoundError(f"no purpose {', '.join(unknown)} in the catalog")
    language = language_of(contact.locale)
    notice = notice_for(session, notice_version, language)
    if notice is None:
        raise NotFoundError(f"notice {notice_version!r} is not published")
    if any(state is not ConsentState.GIVEN for _, state in choices):
        hold_contacts(session, [contact.id], exclusive=True)
    given = set(
        session.scalars(
            select(ConsentStatus.purpose_id).where(
                ConsentStatus.contact_id == contact.id, ConsentStatus.state == ConsentState.GIVEN
            )
        )
    )
    events: list[NewEvent] = []
    for code, wanted in choices:
        purpose = purposes[code]
        state = heard_state(wanted, held_given=purpose.id in given)
        events.append(
            operator_event(contact, purpose, state, ctx.now, call, language, notice, idempotency)
        )
    append_events(session, events, ctx)
    return {event.purpose.code: event.state for event in events}


def heard_state(wanted: ConsentState, *, held_given: bool) -> ConsentState:
    """What a decision heard on a call records: a "no" to a purpose held GIVEN is a
    withdrawal (art. 7(3)), to one not held a refusal, whichever word the agent chose."""
    if wanted is ConsentState.GIVEN:
        return wanted
    return ConsentState.WITHDRAWN if held_given else ConsentState.REFUSED


def consent_answer(external_id: str | None, states: dict[str, ConsentState]) -> Answer:
    """The API's answer to a recorded consent post (201: the states recorded)."""
    return Answer(
        201, {"external_id": external_id, "states": {k: v.value for k, v in states.items()}}
    )


class EventSubject(Protocol):
    """Whose event it is: a ``Contact``, or a row of its ``id`` and ``subject_id``."""

    @property
    def id(self) -> int: ...
    @property
    def subject_id(self) -> str: ...


def operator_event(
    contact: EventSubject,
    purpose: Purpose,
    state: ConsentState,
    at: datetime,
    call: CallFacts,
    language: str,
    notice: Notice,
    idempotency: str | None,
) -> NewEvent:
    """The ledger event of one purpose's decision heard on ``call`` at ``at``."""
    return NewEvent(
        contact_id=contact.id,
        subject_id=contact.subject_id,
        purpose=purpose,
        state=state,
        occurred_at=at,
        method=CollectionMethod.OPERATOR,
        actor=call.actor,
        channel=call.channel,
        language=language,
        notice=NoticeRef(notice.id, notice.version, notice.digest),
        evidence=call.evidence(notice_version=notice.version),
        source="api:operator",
        dedupe_key=dedupe_key(idempotency, call.caller, purpose.code),
    )


def record_operator_objection(
    session: Session, contact: Contact, *, call: CallFacts, ctx: LedgerContext
) -> None:
    """Art. 21 "never contact me", heard on a call (see the module)."""
    record_objection(
        session,
        request_id=None,
        contact_id=contact.id,
        method=CollectionMethod.OPERATOR,
        channel=call.channel,
        evidence=call.evidence(),
        ctx=ctx,
    )
