"""The lawful-contact gate at send time: the eligibility rule, re-read per person.

Everything that forbids or limits contact is read again from the database
(erasure, restriction, objections and suppressions by contact and by address
hash, the consent states of the wave's purposes, the customer evidence) and
judged by :func:`reconsent.kernel.rules.eligibility.evaluate`, the same rule
planning applied. It is consulted when a send is claimed, so an objection that
lands mid-wave stops the very next send. With a patron calendar, the gate also
carries the person's local holidays (their municipality's patron-saint day) for
the calling hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import JSON, ColumnElement, Select, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose, Suppression, Wave, suppression_in_force
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.db import among, among_list, list_param
from reconsent.kernel.rules.eligibility import (
    RPO_PREFIX,
    PersonFacts,
    PurposeFacts,
    WaveRules,
    evaluate,
    person_wide,
)
from reconsent.kernel.rules.escalation import Gate
from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, LocalDays, PatronCalendar
from reconsent.kernel.vocab import Channel, ConsentState, SuppressionReason
from reconsent.kernel.waveconfig import WaveConfig

__all__ = [
    "PERSON_COLUMNS",
    "Person",
    "PersonRow",
    "Suppressed",
    "load_gates",
    "person_facts",
    "person_gate",
    "send_rules",
    "stopped_on",
    "suppression_rows_of_contact",
    "suppressions_from",
    "suppressions_of",
]


class PurposeLike(Protocol):
    """What the rule reads of a purpose: a ``Purpose``, or a cached reference to one."""

    @property
    def code(self) -> str: ...
    @property
    def channel(self) -> Channel | None: ...


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
    @property
    def customer_since(self) -> date | None: ...
    @property
    def municipality(self) -> str | None: ...


#: The columns of a contact the gate reads (a row of them is a :class:`Person`).
PERSON_COLUMNS = (
    Contact.id,
    Contact.timezone,
    Contact.email,
    Contact.phone,
    Contact.email_hash,
    Contact.phone_hash,
    Contact.erased_at,
    Contact.restricted_at,
    Contact.customer_since,
    Contact.municipality,
)


class PersonRow(NamedTuple):
    """A row of :data:`PERSON_COLUMNS` read as plain values (a :class:`Person`)."""

    id: int
    timezone: str | None
    email: str | None
    phone: str | None
    email_hash: str | None
    phone_hash: str | None
    erased_at: datetime | None
    restricted_at: datetime | None
    customer_since: date | None
    municipality: str | None


def send_rules(
    config: WaveConfig, *, requested: bool = False, rpo_consulted: bool = True
) -> WaveRules:
    """The rule as the send gate applies it for a wave (``requested``: the person asked
    for this very message, e.g. a fresh link: no marketing basis is needed;
    ``rpo_consulted``: see :func:`reconsent.eligibility.rpo_register.rpo_consulted`)."""
    return WaveRules(
        channels=tuple(dict.fromkeys(config.channels)),
        declared=dict(config.lawful_basis),
        include_missing=config.stale.include_missing,
        at_send_time=True,
        requested=requested,
        rpo_consulted=rpo_consulted,
    )


@dataclass(frozen=True)
class Suppressed:
    every: dict[int, SuppressionReason]
    channels: dict[int, dict[Channel, SuppressionReason]]


def load_gates(
    session: Session,
    contacts: Iterable[Person],
    purposes: Sequence[Purpose],
    rules: WaveRules,
    calendar: PatronCalendar | None = None,
) -> dict[int, Gate]:
    """The gate of each person for a wave whose purposes are ``purposes``; with
    ``calendar``, each gate carries the person's local holidays (else none)."""
    people = list(contacts)
    ids = [c.id for c in people]
    states = _states(session, ids, [p.id for p in purposes])
    suppressed = suppressions_of(session, people)
    gates: dict[int, Gate] = {}
    # Most people share one of a few situations: the rule runs once per situation.
    judged: dict[tuple[object, ...], Gate] = {}
    pids = [p.id for p in purposes]
    nothing: dict[int, tuple[ConsentState, bool]] = {}
    every, channels = suppressed.every, suppressed.channels
    local_days = calendar.local_days if calendar is not None else _no_local_days
    for c in people:
        mine = states.get(c.id, nothing)
        phone = c.phone
        situation = (
            tuple([mine.get(pid, _NO_RECORD) for pid in pids]),
            _ADDRESSES[bool(c.email), bool(phone)],
            c.erased_at is not None,
            c.restricted_at is not None,
            every.get(c.id),
            tuple(sorted(channels[c.id].items())) if c.id in channels else (),
            bool(mine),
            c.customer_since is not None,
            bool(phone and phone.startswith(RPO_PREFIX)),
            c.timezone,
            local_days(c.municipality),
        )
        gate = judged.get(situation)
        if gate is None:
            gate = judged[situation] = _judge(situation, purposes, rules)
        gates[c.id] = gate
    return gates


def _judge(situation: tuple[Any, ...], purposes: Sequence[Purpose], rules: WaveRules) -> Gate:
    states, addresses, erased, restricted, every, channels, any_record, customer, rpo, tz, local = (
        situation
    )
    facts = person_facts(
        purposes,
        states,
        addresses,
        erased,
        restricted,
        every,
        channels,
        any_record,
        rpo,
        customer=customer,
    )
    verdict = evaluate(facts, rules)
    blocked = verdict.reason if verdict.reason in person_wide() else None
    return Gate(blocked, tz, dict(verdict.blocks), local)


def person_facts(
    purposes: Sequence[PurposeLike],
    marks: Sequence[tuple[ConsentState, bool]],
    addresses: frozenset[Channel],
    erased: bool,
    restricted: bool,
    every: SuppressionReason | None,
    channels: Iterable[tuple[Channel, SuppressionReason]],
    any_record: bool,
    rpo: bool,
    *,
    customer: bool = False,
    asked_recently: int = 0,
) -> PersonFacts:
    """What the rule reads of one person, from the parts of a situation the gate (and
    the contactability check) group people by: ``marks`` is (state, provable) per purpose."""
    return PersonFacts(
        purposes=tuple(
            PurposeFacts(p.code, p.channel, state, provable)
            for p, (state, provable) in zip(purposes, marks, strict=True)
        ),
        addresses=addresses,
        erased=erased,
        restricted=restricted,
        every_suppression=every,
        channel_suppressions=dict(channels),
        any_record=any_record,
        customer=customer,
        asked_recently=asked_recently,
        rpo_covered=rpo,
    )


def person_gate(
    session: Session,
    person: Person,
    wave: Wave,
    *,
    channels: Sequence[Channel] | None = None,
    requested: bool = False,
) -> Gate:
    """One person's gate for ``wave``; ``channels`` (default: the wave's steps) are the
    ones judged, ``requested`` as in :func:`send_rules`."""
    config = wave_config(wave)
    rules = send_rules(config, requested=requested)
    if channels is not None:
        rules = replace(rules, channels=tuple(channels))
    return load_gates(session, [person], wave_purposes(session, config), rules)[person.id]


def _no_local_days(_municipality: str | None) -> LocalDays:
    return NO_LOCAL_DAYS


_NO_RECORD = (None, False)
#: (has an e-mail, has a phone) -> the channels with an address.
_ADDRESSES = {
    (True, True): frozenset(Channel),
    (True, False): frozenset({Channel.EMAIL}),
    (False, True): frozenset({Channel.SMS, Channel.IVR}),
    (False, False): frozenset(),
}


def _states(
    session: Session, ids: list[int], purpose_ids: list[int]
) -> dict[int, dict[int, tuple[ConsentState, bool]]]:
    """Contact -> purpose -> (latest state, provable), for the wave's purposes."""
    found: dict[int, dict[int, tuple[ConsentState, bool]]] = {}
    if not ids or not purpose_ids:
        return found
    rows = session.execute(
        select(
            ConsentStatus.contact_id,
            ConsentStatus.purpose_id,
            ConsentStatus.state,
            ConsentStatus.provable,
        ).where(
            among(session, ConsentStatus.contact_id, ids),
            ConsentStatus.purpose_id.in_(purpose_ids),
        )
    )
    for contact_id, purpose_id, state, provable in rows:
        found.setdefault(contact_id, {})[purpose_id] = (state, bool(provable))  # enum already
    return found


def stopped_on(session: Session, person: Person, channel: Channel) -> str | None:
    """Why ``person`` may not be reached on ``channel`` right now, whatever a wave says:
    erased, restricted, or suppressed there or everywhere (by contact or address hash).
    What a webhook checks before it records an answer given on that channel."""
    if person.erased_at is not None:
        return "erased"
    if person.restricted_at is not None:
        return "restricted"
    found = suppressions_of(session, [person])
    why = found.every.get(person.id) or found.channels.get(person.id, {}).get(channel)
    return None if why is None else f"suppressed:{why.value}"


@cache
def _suppression_rows(
    dialect: str,
) -> Select[int | None, str | None, Channel | None, SuppressionReason]:
    """The suppressions of contacts ``ids`` or of addresses ``hashes`` (built once; the
    lists come as :func:`reconsent.db.list_param` values)."""
    return (
        select(
            Suppression.contact_id,
            Suppression.address_hash,
            Suppression.channel,
            Suppression.reason,
        )
        .where(
            or_(
                among_list(Suppression.contact_id, "ids", dialect),
                among_list(Suppression.address_hash, "hashes", dialect),
            ),
            suppression_in_force(),
        )
        .order_by(Suppression.reason)  # the smallest reason wins, as in planning
    )


def suppressions_of(session: Session, people: list[Person]) -> Suppressed:
    """Every-channel and per-channel suppressions, by contact id and by address hash;
    a hash suppression on a channel only applies to the address that channel uses."""
    ids = [c.id for c in people]
    hashes = list({d: None for c in people for d in (c.email_hash, c.phone_hash) if d})
    conn = session.connection()
    dialect = conn.dialect.name
    params = {"ids": list_param(ids, dialect), "hashes": list_param(hashes, dialect)}
    return suppressions_from(people, conn.execute(_suppression_rows(dialect), params))


SuppressionRow = tuple[int | None, str | None, str | None, str]


def suppressions_from(people: Sequence[Person], rows: Iterable[SuppressionRow]) -> Suppressed:
    """What :func:`suppressions_of` returns, from suppression rows already read
    (``contact_id, address_hash, channel, reason``, smallest reason first: it wins),
    e.g. by :func:`suppression_rows_of_contact` inside a query of contacts."""
    every: dict[int, SuppressionReason] = {}
    channels: dict[int, dict[Channel, SuppressionReason]] = {}
    by_hash: dict[str, list[int]] = {}
    for c in people:
        for digest in (c.email_hash, c.phone_hash):
            if digest:
                by_hash.setdefault(digest, []).append(c.id)
    by_id = {c.id: c for c in people}
    for suppressed_id, digest, channel, reason in rows:
        owners: list[int] = [suppressed_id] if suppressed_id is not None else []
        if digest:
            owners += by_hash.get(digest, [])
        why = SuppressionReason(reason)
        for owner in owners:
            if owner not in by_id:
                continue
            if channel is None:
                every.setdefault(owner, why)
            elif digest is None or _address_fits(by_id[owner], Channel(channel), digest):
                channels.setdefault(owner, {}).setdefault(Channel(channel), why)
    return Suppressed(every, channels)


def suppression_rows_of_contact(dialect: str) -> ColumnElement[Any]:
    """The suppressions in force that may concern the enclosing query's contact (by its
    id or either address hash) as one JSON array of ``[contact_id, address_hash,
    channel, reason]`` (NULL or empty: none): one statement reads people and their suppressions.
    :func:`suppressions_from` decides which of them apply, as for :func:`suppressions_of`."""
    fields = (Suppression.contact_id, Suppression.address_hash, Suppression.channel)
    if dialect == "postgresql":
        each: Any = func.json_agg(func.json_build_array(*fields, Suppression.reason))
    else:
        each = func.json_group_array(func.json_array(*fields, Suppression.reason))
    concerned = or_(
        Suppression.contact_id == Contact.id,
        Suppression.address_hash == Contact.email_hash,
        Suppression.address_hash == Contact.phone_hash,
    )
    found = select(each).where(concerned, suppression_in_force())
    return type_coerce(found.scalar_subquery(), JSON())


def _address_fits(contact: Person, channel: Channel, digest: str) -> bool:
    """A hash suppression on a channel only applies to the address that channel uses."""
    if channel is Channel.EMAIL:
        return contact.email_hash == digest
    return contact.phone_hash == digest
