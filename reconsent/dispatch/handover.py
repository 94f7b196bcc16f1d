"""Handing a chunk of messages to the provider: never after the person said no.

A chunk goes out in two transactions:

1. **mark** (committed before anything else): the chunk's attempts this claim
   still owns become SENDING (``UPDATE ... RETURNING``: an attempt another
   dispatcher re-claimed after our lease is dropped from the chunk). A crash
   from here on leaves them SENDING: handed over at most once.
2. **hold**, kept until the provider has answered: it takes the lock every
   objection takes (:func:`reconsent.db.hold_contacts`: the contacts' rows
   ``FOR SHARE`` on PostgreSQL, a shared file lock beside a SQLite database) and
   re-reads the gate of every person in the chunk; only the people who may still
   be contacted are sent, and only while the lock is held. The hold only reads.
3. the attempts of the others are marked SKIPPED (with the reason) once the hold
   is over; their requests are decided again at the next tick.

An objection (``reconsent.ledger.objections``) takes the same lock first and
exclusively, so it either commits before the hold began, and the re-read sees
it, or waits until the provider has answered: nothing reaches a provider after
an objection is committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from models import (
    ConsentEvent,
    Contact,
    Purpose,
    RightsRequest,
    SendAttempt,
    Suppression,
    WaveRequest,
)
from reconsent.db import among, hold_contacts, unit_of_work
from reconsent.eligibility.send_gate import PERSON_COLUMNS, load_gates
from reconsent.kernel.ports import OutboundMessage
from reconsent.kernel.rules.eligibility import WaveRules
from reconsent.kernel.rules.escalation import channel_block
from reconsent.kernel.vocab import AttemptStatus

__all__ = ["Handover", "HandoverPlan", "Watermark", "hand_over", "watermark"]


#: What a "no" (or any change of a person's situation) writes: the highest id of each,
#: read before the claim's gate, tells the hand-over who changed since.
Watermark = tuple[int, int, int]  # consent_events, suppressions, rights_requests


def watermark(session: Session) -> Watermark:
    """The newest event, suppression and rights request (three index look-ups)."""
    return (
        session.scalar(select(func.max(ConsentEvent.id))) or 0,
        session.scalar(select(func.max(Suppression.id))) or 0,
        session.scalar(select(func.max(RightsRequest.id))) or 0,
    )


@dataclass
class HandoverPlan:
    """What the hand-over of one claim's chunks needs to re-judge each person."""

    purposes: Sequence[Purpose] = ()
    rules: WaveRules | None = None
    contact_of: dict[int, int] = field(default_factory=dict)  # attempt id -> contact id
    #: Read before the claim judged these people; None: re-judge everyone at hand-over.
    seen: Watermark | None = None


def _changed(
    session: Session, seen: Watermark, now_seen: Watermark, contact_ids: list[int]
) -> set[int]:
    """The people among ``contact_ids`` whose situation may have changed since ``seen``."""
    events, suppressions, rights = seen
    changed: set[int] = set()
    if now_seen[0] > events:
        changed.update(
            session.scalars(
                select(ConsentEvent.contact_id).where(
                    ConsentEvent.id > events, among(session, ConsentEvent.contact_id, contact_ids)
                )
            )
        )
    if now_seen[2] > rights:
        changed.update(
            session.scalars(
                select(RightsRequest.contact_id).where(
                    RightsRequest.id > rights,
                    among(session, RightsRequest.contact_id, contact_ids),
                )
            )
        )
    if now_seen[1] > suppressions:
        hashes: dict[str, list[int]] = {}
        for contact_id, email_hash, phone_hash in session.execute(
            select(Contact.id, Contact.email_hash, Contact.phone_hash).where(
                among(session, Contact.id, contact_ids)
            )
        ):
            for digest in (email_hash, phone_hash):
                if digest:
                    hashes.setdefault(digest, []).append(contact_id)
        for suppressed_id, digest in session.execute(
            select(Suppression.contact_id, Suppression.address_hash).where(
                Suppression.id > suppressions
            )
        ):
            if suppressed_id is not None:
                changed.add(suppressed_id)
            changed.update(hashes.get(digest or "", []))
    return changed & set(contact_ids)


@dataclass(frozen=True)
class Handover:
    passing: list[OutboundMessage]  # send these, now, while the hold lasts
    blocked: list[tuple[int, str]]  # (attempt id, why) marked SKIPPED, never sent


def _mark_sending(engine: Engine, token: str, chunk: list[OutboundMessage]) -> set[int]:
    with unit_of_work(engine) as session:
        owned = session.scalars(
            update(SendAttempt)
            .where(
                among(session, SendAttempt.id, [m.attempt_id for m in chunk]),
                SendAttempt.claim_token == token,
                SendAttempt.status == AttemptStatus.CLAIMED,
            )
            .values(status=AttemptStatus.SENDING)
            .returning(SendAttempt.id)
            .execution_options(synchronize_session=False)
        )
        return set(owned)


def _blocked(session: Session, chunk: list[OutboundMessage], plan: HandoverPlan) -> dict[int, str]:
    """Attempt id -> why its person may no longer be reached on its channel."""
    assert plan.rules is not None
    contact_ids = sorted({plan.contact_of[m.attempt_id] for m in chunk})
    if plan.seen is not None:  # only who changed since the claim needs judging again
        current = watermark(session)
        if current == plan.seen:
            return {}
        contact_ids = sorted(_changed(session, plan.seen, current, contact_ids))
        if not contact_ids:
            return {}
        judged = set(contact_ids)
        chunk = [m for m in chunk if plan.contact_of[m.attempt_id] in judged]
    people = session.execute(
        select(*PERSON_COLUMNS).where(among(session, Contact.id, contact_ids))
    ).all()
    gates = load_gates(session, people, plan.purposes, plan.rules)
    gone = set(contact_ids) - {p.id for p in people}  # no row any more: never contacted
    found: dict[int, str] = {}
    for message in chunk:
        contact_id = plan.contact_of[message.attempt_id]
        gate = gates.get(contact_id)
        if gate is None or contact_id in gone:
            found[message.attempt_id] = "erased"
            continue
        why = gate.blocked or channel_block(message.channel, gate)
        if why is not None:
            found[message.attempt_id] = why
    return found


def _skip(session: Session, blocked: dict[int, str], now: datetime) -> None:
    for attempt_id, why in blocked.items():
        request_id = session.scalar(
            update(SendAttempt)
            .where(SendAttempt.id == attempt_id, SendAttempt.status == AttemptStatus.SENDING)
            .values(status=AttemptStatus.SKIPPED, error_code=f"handover:{why}"[:64])
            .returning(SendAttempt.request_id)
        )
        if request_id is not None:  # decided again at the next tick: cancel or next step
            session.execute(
                update(WaveRequest)
                .where(WaveRequest.id == request_id)
                .values(next_action_at=now)
                .execution_options(synchronize_session=False)
            )


@contextmanager
def hand_over(
    engine: Engine,
    token: str,
    chunk: list[OutboundMessage],
    plan: HandoverPlan,
    now: datetime,
) -> Iterator[Handover]:
    """Mark, hold and re-judge ``chunk`` (see the module); send ``passing`` inside."""
    owned = _mark_sending(engine, token, chunk)
    mine = [m for m in chunk if m.attempt_id in owned]
    if not mine:
        yield Handover([], [])
        return
    with unit_of_work(engine) as session:
        hold_contacts(session, sorted({plan.contact_of[m.attempt_id] for m in mine}))
        blocked = _blocked(session, mine, plan) if plan.rules is not None else {}
        yield Handover(
            [m for m in mine if m.attempt_id not in blocked],
            sorted(blocked.items()),
        )
    if blocked:
        with unit_of_work(engine) as session:
            _skip(session, blocked, now)
