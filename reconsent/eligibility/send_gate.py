"""The lawful-contact gate at send time: re-read, per person, everything that
forbids or limits contact (refusals, withdrawals, suppressions, erasure).

It is consulted at claim time, so an objection that lands mid-wave stops the
very next send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import ConsentStatus, Suppression
from reconsent.db import among
from reconsent.kernel.rules.escalation import Gate
from reconsent.kernel.vocab import Channel, ConsentState


class Person(Protocol):
    """What the gate reads of a person: a ``Contact``, or a row with the same columns."""

    @property
    def id(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email_hash(self) -> str | None: ...
    @property
    def phone_hash(self) -> str | None: ...
    @property
    def erased_at(self) -> datetime | None: ...
    @property
    def restricted_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class _Blocks:
    blocked: dict[int, str]
    channels: dict[int, set[Channel]]


def load_gates(
    session: Session, contacts: Iterable[Person], declared: frozenset[Channel]
) -> dict[int, Gate]:
    people = list(contacts)
    blocks = _load_blocks(session, people)
    gates: dict[int, Gate] = {}
    shared: dict[tuple[object, ...], Gate] = {}  # most people share one of a few gates
    for c in people:
        blocked, suppressed = blocks.blocked.get(c.id), blocks.channels.get(c.id)
        key = (
            blocked,
            c.timezone,
            bool(c.email),
            bool(c.phone),
            suppressed and frozenset(suppressed),
        )
        gate = shared.get(key)
        if gate is None:
            gate = shared[key] = Gate(
                blocked=blocked,
                timezone=c.timezone,
                has_email=bool(c.email),
                has_phone=bool(c.phone),
                suppressed_channels=frozenset(suppressed or ()),
                declared_channels=declared,
            )
        gates[c.id] = gate
    return gates


def _load_blocks(session: Session, people: list[Person]) -> _Blocks:
    blocked: dict[int, str] = {}
    channels: dict[int, set[Channel]] = {}
    for contact in people:
        if contact.erased_at is not None:
            blocked[contact.id] = "erased"
        elif contact.restricted_at is not None:
            blocked[contact.id] = "restricted"
    ids = [c.id for c in people]
    negative = session.execute(
        select(ConsentStatus.contact_id, ConsentStatus.state).where(
            among(session, ConsentStatus.contact_id, ids),
            ConsentStatus.state.in_([ConsentState.REFUSED, ConsentState.WITHDRAWN]),
        )
    )
    for contact_id, state in negative:
        blocked.setdefault(contact_id, ConsentState(state).value)
    by_hash: dict[str, list[int]] = {}
    for c in people:
        for digest in (c.email_hash, c.phone_hash):
            if digest:
                by_hash.setdefault(digest, []).append(c.id)
    by_id = {c.id: c for c in people}
    rows = session.execute(
        select(
            Suppression.contact_id,
            Suppression.address_hash,
            Suppression.channel,
            Suppression.reason,
        ).where(
            or_(
                among(session, Suppression.contact_id, ids),
                among(session, Suppression.address_hash, list(by_hash)),
            )
        )
    )
    for suppressed_id, digest, channel, reason in rows:
        owners: list[int] = [suppressed_id] if suppressed_id is not None else []
        if digest:
            owners += by_hash.get(digest, [])
        for owner in owners:
            if owner not in by_id:
                continue
            if channel is None:
                blocked.setdefault(owner, str(reason.value if hasattr(reason, "value") else reason))
            elif digest is None or _address_fits(by_id[owner], Channel(channel), digest):
                channels.setdefault(owner, set()).add(Channel(channel))
    return _Blocks(blocked, channels)


def _address_fits(contact: Person, channel: Channel, digest: str) -> bool:
    """A hash suppression on a channel only applies to the address that channel uses."""
    if channel is Channel.EMAIL:
        return contact.email_hash == digest
    return contact.phone_hash == digest
