"""The contactability check: who holds these addresses, and may they be contacted now?

One set-based read for a whole batch (contacts by address hash or external id,
their consent states, their suppressions by contact and by address hash, the
RPO registrations, the waves' recent requests), then the rule
(:func:`reconsent.kernel.rules.contactability.judge_contact`, over the
eligibility rule set of the waves) once per distinct situation. Suppressions
are read by the send gate's own loader (:mod:`reconsent.eligibility.send_gate`).

An address several contacts share is judged for each of them and answered for
all: allowed only when every holder is (a "no" of one is a "no" for the address).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import (
    ConsentStatus,
    Contact,
    Purpose,
    RpoRegistration,
    SendAttempt,
    WaveRequest,
)
from reconsent.db import among
from reconsent.eligibility.rpo_register import RPO_VALIDITY_DAYS, rpo_consulted
from reconsent.eligibility.send_gate import PERSON_COLUMNS, _suppressions
from reconsent.kernel.errors import AddressError, NotFoundError
from reconsent.kernel.rules.addresses import address_hash, normalise_email, normalise_phone
from reconsent.kernel.rules.contactability import (
    Contactability,
    ContactFacts,
    judge_contact,
    rpo_revokes,
    state_in_force,
)
from reconsent.kernel.rules.eligibility import RPO_PREFIX, PersonFacts, PurposeFacts, WaveRules
from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, PatronCalendar
from reconsent.kernel.vocab import AddressKind, AttemptStatus, Channel, ConsentState
from reconsent.kernel.waveconfig import FrequencyCap, QuietHours

__all__ = ["LOOKUP_KINDS", "AddressKey", "CheckOptions", "Lookup", "check_contacts", "lookup_key"]

#: How a contact is named: by phone, e-mail or the CRM's id.
LOOKUP_KINDS = ("phone", "email", "external_id")
#: Answers for an address nobody holds, or one that is not an address at all.
UNKNOWN, INVALID = "unknown_contact", "invalid_address"


@dataclass(frozen=True)
class Lookup:
    kind: str  # one of LOOKUP_KINDS
    value: str


@dataclass(frozen=True)
class CheckOptions:
    address_key: bytes
    region: str = "IT"
    rpo_validity_days: int = RPO_VALIDITY_DAYS
    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    calendar: PatronCalendar | None = None


@dataclass(frozen=True)
class AddressKey:
    column: str  # phone_hash, email_hash or external_id
    value: str


def lookup_key(lookup: Lookup, options: CheckOptions) -> AddressKey | None:
    try:
        if lookup.kind == "phone":
            number = normalise_phone(lookup.value, options.region)
            return AddressKey(
                "phone_hash", address_hash(options.address_key, AddressKind.PHONE, number)
            )
        if lookup.kind == "email":
            email = normalise_email(lookup.value)
            return AddressKey(
                "email_hash", address_hash(options.address_key, AddressKind.EMAIL, email)
            )
    except AddressError:
        return None
    return AddressKey("external_id", lookup.value)


_COLUMNS = (*PERSON_COLUMNS, Contact.external_id, Contact.contract_exempt)


def _holders(session: Session, keys: list[AddressKey]) -> list[Any]:
    wanted: dict[str, list[str]] = {"phone_hash": [], "email_hash": [], "external_id": []}
    for key in keys:
        wanted[key.column].append(key.value)
    conditions = [
        among(session, getattr(Contact, column), values)
        for column, values in wanted.items()
        if values
    ]
    if not conditions:
        return []
    return list(session.execute(select(*_COLUMNS).where(or_(*conditions))))


def _purposes(session: Session, channel: Channel, code: str | None) -> list[Purpose]:
    query = select(Purpose).order_by(Purpose.id)
    query = query.where(Purpose.code == code) if code else query.where(Purpose.channel == channel)
    found = list(session.scalars(query))
    if code and not found:
        raise NotFoundError(f"no purpose {code!r} in the catalog")
    return found


def _states(
    session: Session, ids: list[int], purpose_ids: list[int], now: datetime
) -> dict[int, dict[int, tuple[ConsentState | None, bool, datetime]]]:
    found: dict[int, dict[int, tuple[ConsentState | None, bool, datetime]]] = {}
    if not ids or not purpose_ids:
        return found
    rows = session.execute(
        select(
            ConsentStatus.contact_id,
            ConsentStatus.purpose_id,
            ConsentStatus.state,
            ConsentStatus.provable,
            ConsentStatus.occurred_at,
            ConsentStatus.expires_at,
        ).where(
            among(session, ConsentStatus.contact_id, ids), ConsentStatus.purpose_id.in_(purpose_ids)
        )
    )
    for contact_id, purpose_id, state, provable, occurred_at, expires_at in rows:
        found.setdefault(contact_id, {})[purpose_id] = (
            state_in_force(state, expires_at, now),
            bool(provable),
            occurred_at,
        )
    return found


def _registrations(session: Session, hashes: list[str]) -> dict[str, datetime]:
    if not hashes:
        return {}
    rows = session.execute(
        select(RpoRegistration.phone_hash, func.max(RpoRegistration.registered_at))
        .where(among(session, RpoRegistration.phone_hash, hashes))
        .group_by(RpoRegistration.phone_hash)
    )
    return {digest: when for digest, when in rows}


def _asked(session: Session, ids: list[int], since: datetime) -> dict[int, int]:
    """Per contact: how many wave requests reached them since ``since``."""
    if not ids:
        return {}
    rows = session.execute(
        select(WaveRequest.contact_id, func.count(func.distinct(WaveRequest.id)))
        .join(SendAttempt, SendAttempt.request_id == WaveRequest.id)
        .where(
            among(session, WaveRequest.contact_id, ids),
            SendAttempt.status.in_([AttemptStatus.SENT, AttemptStatus.UNKNOWN]),
            SendAttempt.claimed_at >= since,
        )
        .group_by(WaveRequest.contact_id)
    )
    return {contact_id: int(count) for contact_id, count in rows}


_ADDRESSES = {
    (True, True): frozenset(Channel),
    (True, False): frozenset({Channel.EMAIL}),
    (False, True): frozenset({Channel.SMS, Channel.IVR}),
    (False, False): frozenset(),
}


def check_contacts(
    session: Session,
    channel: Channel,
    lookups: Sequence[Lookup],
    options: CheckOptions,
    *,
    now: datetime,
    purpose: str | None = None,
) -> list[Contactability]:
    """The answer for each lookup, in order (see the module)."""
    keys = [lookup_key(lookup, options) for lookup in lookups]
    people = _holders(session, [k for k in keys if k is not None])
    purposes = _purposes(session, channel, purpose)
    ids = [p.id for p in people]
    pids = [p.id for p in purposes]
    states = _states(session, ids, pids, now)
    suppressed = _suppressions(session, people)
    registered = (
        _registrations(session, [p.phone_hash for p in people if p.phone_hash])
        if channel is Channel.IVR
        else {}
    )
    cap = options.frequency_cap
    asked = _asked(session, ids, now - timedelta(days=cap.days)) if cap else {}
    rules = WaveRules(
        channels=(channel,),
        frequency_cap=cap.max_requests if cap else None,
        rpo_consulted=rpo_consulted(session, now, options.rpo_validity_days),
    )
    preset = options.quiet_hours.preset(channel)
    judged: dict[tuple[object, ...], Contactability] = {}
    by_key: dict[tuple[str, str], list[Contactability]] = {}
    nothing: dict[int, tuple[ConsentState | None, bool, datetime]] = {}
    for c in people:
        mine = states.get(c.id, nothing)
        marks = tuple(
            (mine[pid][0], mine[pid][1]) if pid in mine else (None, False) for pid in pids
        )
        given_at = max(
            (when for state, _, when in mine.values() if state is ConsentState.GIVEN),
            default=None,
        )
        local = options.calendar.local_days(c.municipality) if options.calendar else NO_LOCAL_DAYS
        situation = (
            marks,
            _ADDRESSES[bool(c.email), bool(c.phone)],
            c.erased_at is not None,
            c.restricted_at is not None,
            suppressed.every.get(c.id),
            tuple(sorted(suppressed.channels.get(c.id, {}).items())),
            bool(mine),
            bool(c.phone and c.phone.startswith(RPO_PREFIX)),
            min(asked.get(c.id, 0), rules.frequency_cap or 0),
            c.timezone,
            local,
            rpo_revokes(registered.get(c.phone_hash or ""), c.contract_exempt, given_at),
        )
        answer = judged.get(situation)
        if answer is None:
            answer = judged[situation] = _judge(situation, purposes, channel, rules, now, preset)
        for column in ("phone_hash", "email_hash", "external_id"):
            value = getattr(c, column)
            if value:
                by_key.setdefault((column, value), []).append(answer)
    return [
        _combined(by_key.get((key.column, key.value), [])) if key else _nobody(INVALID)
        for key in keys
    ]


def _judge(
    situation: tuple[Any, ...],
    purposes: Sequence[Purpose],
    channel: Channel,
    rules: WaveRules,
    now: datetime,
    preset: str,
) -> Contactability:
    (
        marks,
        addresses,
        erased,
        restricted,
        every,
        channels,
        any_record,
        rpo,
        asked,
        tz,
        local,
        reg,
    ) = situation
    person = PersonFacts(
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
        asked_recently=asked,
        rpo_covered=rpo,
    )
    facts = ContactFacts(person=person, timezone=tz, local_days=local, rpo_registered=reg)
    return judge_contact(facts, channel, rules, now=now, quiet_preset=preset)


def _nobody(reason: str) -> Contactability:
    return Contactability(False, (reason,), None, None)


def _combined(answers: list[Contactability]) -> Contactability:
    if not answers:
        return _nobody(UNKNOWN)
    if len(answers) == 1:
        return answers[0]
    reasons = tuple(dict.fromkeys(r for a in answers for r in a.reasons))
    seconds = [a.seconds_in_window for a in answers if a.seconds_in_window is not None]
    openings = [a.next_allowed_at for a in answers if a.next_allowed_at is not None]
    return Contactability(
        allowed=not reasons,
        reasons=reasons,
        seconds_in_window=min(seconds) if seconds and not openings else None,
        next_allowed_at=max(openings) if openings else None,
    )
