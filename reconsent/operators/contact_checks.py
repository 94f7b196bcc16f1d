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

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, false, func, literal, null, or_, select

from models import (
    ConsentStatus,
    Contact,
    RpoRegistration,
    SendAttempt,
    WaveRequest,
)
from models.base import UTCDateTime
from reconsent.db import among_list, list_param, plain_rows
from reconsent.eligibility.rpo_register import RPO_VALIDITY_DAYS, consulted_within
from reconsent.eligibility.send_gate import (
    PERSON_COLUMNS,
    PersonRow,
    Suppressed,
    person_facts,
    suppression_rows_of_contact,
    suppressions_from,
)
from reconsent.kernel.clock import ensure_utc
from reconsent.kernel.errors import AddressError, NotFoundError
from reconsent.kernel.rules.addresses import address_hasher, normalise_email, normalise_phone
from reconsent.kernel.rules.contactability import (
    Contactability,
    ContactFacts,
    judge_contact,
    rpo_revokes,
    state_in_force,
)
from reconsent.kernel.rules.eligibility import RPO_PREFIX, WaveRules
from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, LocalDays, PatronCalendar
from reconsent.kernel.vocab import AddressKind, AttemptStatus, Channel, ConsentState
from reconsent.kernel.waveconfig import FrequencyCap, QuietHours
from reconsent.operators.reference_data import PurposeRef, Reference

__all__ = [
    "LOOKUP_KINDS",
    "AddressKey",
    "CheckOptions",
    "Lookup",
    "check_contacts",
    "lookup_key",
]

#: How a contact is named: by phone, e-mail or the CRM's id.
LOOKUP_KINDS = ("phone", "email", "external_id")
#: Answers for an address nobody holds, or one that is not an address at all.
UNKNOWN, INVALID = "unknown_contact", "invalid_address"


class Lookup(NamedTuple):  # a tuple: a batch makes 10,000 of them
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


class AddressKey(NamedTuple):
    column: str  # phone_hash, email_hash or external_id
    value: str


def lookup_key(
    lookup: Lookup, options: CheckOptions, hasher: Callable[[AddressKind, str], str] | None = None
) -> AddressKey | None:
    """Where ``lookup`` is found: an address hash or the external id (None: not an
    address); ``hasher``: :func:`address_hasher` of the options' key, when made already."""
    digest = hasher or address_hasher(options.address_key)
    try:
        if lookup.kind == "phone":
            raw = lookup.value.strip()
            number = raw if _E164.fullmatch(raw) else normalise_phone(raw, options.region)
            return AddressKey("phone_hash", digest(AddressKind.PHONE, number))
        if lookup.kind == "email":
            email = normalise_email(lookup.value)
            return AddressKey("email_hash", digest(AddressKind.EMAIL, email))
    except AddressError:
        return None
    return AddressKey("external_id", lookup.value)


_COLUMNS = (*PERSON_COLUMNS, Contact.external_id, Contact.contract_exempt)
#: A number already in E.164 is hashed as it is; anything else is parsed (and checked).
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def _judged(
    reference: Reference, conn: Connection, channel: Channel, code: str | None
) -> list[PurposeRef]:
    catalog = reference.purposes(conn)
    found = [p for p in catalog if (p.code == code if code else p.channel is channel)]
    if code and not found:
        raise NotFoundError(f"no purpose {code!r} in the catalog")
    return found


_KEY_COLUMNS = ("phone_hash", "email_hash", "external_id")
#: Where a row of _holders_query has its suppressions, then its state of one purpose.
_SUPPRESSIONS = len(_COLUMNS) + 2
_STATE = _SUPPRESSIONS + 1


@cache
def _holders_query(
    dialect: str, ivr: bool, capped: bool, purpose_ids: tuple[int, ...]
) -> Any:  # a Select of many columns
    """The holders of the keys (parameters ``phone_hash``, ``email_hash``,
    ``external_id``: :func:`reconsent.db.list_param`) with their states of the judged
    purposes, their number's latest RPO registration and (``capped``: parameter
    ``since``) how often waves reached them. Built once per shape."""
    registered: Any = null()
    if ivr:
        registered = (
            select(func.max(RpoRegistration.registered_at))
            .where(RpoRegistration.phone_hash == Contact.phone_hash)
            .scalar_subquery()
        )
    asked: Any = literal(0)
    if capped:
        asked = (
            select(func.count(func.distinct(WaveRequest.id)))
            .join(SendAttempt, SendAttempt.request_id == WaveRequest.id)
            .where(
                WaveRequest.contact_id == Contact.id,
                # equalities, not IN: no expanding parameter to render per execution
                or_(
                    SendAttempt.status == AttemptStatus.SENT,
                    SendAttempt.status == AttemptStatus.UNKNOWN,
                ),
                SendAttempt.claimed_at >= bindparam("since", type_=UTCDateTime()),
            )
            .scalar_subquery()
        )
    return (
        select(
            *_COLUMNS,
            registered.label("rpo_registered_at"),
            asked.label("asked"),
            suppression_rows_of_contact(dialect).label("suppressions"),
            ConsentStatus.state,
            ConsentStatus.provable,
            ConsentStatus.occurred_at,
            ConsentStatus.expires_at,
            ConsentStatus.purpose_id,
        )
        .outerjoin(
            ConsentStatus,
            and_(
                ConsentStatus.contact_id == Contact.id,
                or_(*(ConsentStatus.purpose_id == pid for pid in purpose_ids), false()),
            ),
        )
        .where(or_(*(among_list(getattr(Contact, c), c, dialect) for c in _KEY_COLUMNS)))
    )


def _load(
    conn: Connection,
    keys: list[AddressKey],
    purpose_ids: list[int],
    channel: Channel,
    asked_since: datetime | None,
) -> tuple[list[Any], dict[int, dict[int, tuple[Any, ...]]], Suppressed]:
    """The holders, their states and their suppressions, in one statement
    (:func:`_holders_query`)."""
    if not keys:
        return [], {}, Suppressed({}, {})
    wanted: dict[str, list[str]] = {column: [] for column in _KEY_COLUMNS}
    for key in keys:
        wanted[key.column].append(key.value)
    dialect = conn.dialect.name
    query = _holders_query(
        dialect, channel is Channel.IVR, asked_since is not None, tuple(purpose_ids)
    )
    params: dict[str, Any] = {c: list_param(v, dialect) for c, v in wanted.items()}
    if asked_since is not None:
        params["since"] = asked_since
    people: dict[int, Any] = {}
    states: dict[int, dict[int, tuple[Any, ...]]] = {}
    rows: list[Any] = []
    # Only the holders some suppression may concern: a row found for one holder reaches
    # every other holder of its address through that holder's own subquery.
    concerned: list[Any] = []
    # Positional (the columns of _holders_query): a batch reads 10,000 rows.
    for row in plain_rows(conn, query, params):
        cid = row[0]
        if cid not in people:
            people[cid] = row
            if row[_SUPPRESSIONS]:
                rows.extend(row[_SUPPRESSIONS])
                concerned.append(PersonRow(*row[: len(PERSON_COLUMNS)]))
        state, provable, occurred, expires, purpose_id = row[_STATE:]
        if purpose_id is not None:
            held = (ConsentState(state), bool(provable), occurred, expires)
            states.setdefault(cid, {})[purpose_id] = held
    holders = list(people.values())
    rows.sort(key=lambda r: r[3])  # the smallest reason wins, as in planning
    return holders, states, suppressions_from(concerned, rows)


_ADDRESSES = {
    (True, True): frozenset(Channel),
    (True, False): frozenset({Channel.EMAIL}),
    (False, True): frozenset({Channel.SMS, Channel.IVR}),
    (False, False): frozenset(),
}


def check_contacts(
    conn: Connection,
    channel: Channel,
    lookups: Sequence[Lookup],
    options: CheckOptions,
    *,
    now: datetime,
    purpose: str | None = None,
    reference: Reference | None = None,
) -> list[Contactability]:
    """The answer for each lookup, in order (see the module); ``reference``: the
    process's cache of the catalog and the RPO consultation (default: read now)."""
    reference = reference or Reference()
    hasher = address_hasher(options.address_key)
    keys = [lookup_key(lookup, options, hasher) for lookup in lookups]
    purposes = _judged(reference, conn, channel, purpose)
    pids = [p.id for p in purposes]
    cap = options.frequency_cap
    since = now - timedelta(days=cap.days) if cap else None
    people, states, suppressed = _load(
        conn, [k for k in keys if k is not None], pids, channel, since
    )
    consulted = consulted_within(reference.last_consultation(conn), now, options.rpo_validity_days)
    rules = WaveRules(
        channels=(channel,),
        frequency_cap=cap.max_requests if cap else None,
        rpo_consulted=consulted,
    )
    preset = options.quiet_hours.preset(channel)
    judged: dict[tuple[object, ...], Contactability] = {}
    by_key: dict[tuple[str, str], list[Contactability]] = {}
    nothing: dict[int, tuple[Any, ...]] = {}
    local_days: dict[str | None, LocalDays] = {}
    every_of, channels_of = suppressed.every.get, suppressed.channels.get
    cap_max = rules.frequency_cap or 0
    for c in people:
        # The row's columns, positionally (_COLUMNS, then the registration and the count).
        cid, tz, email, phone, email_hash, phone_hash, erased, restricted = c[:8]
        municipality, external_id, exempt, registered, asked = c[9:14]
        held = states.get(cid, nothing)
        marks = tuple([_mark(held.get(pid), now) for pid in pids])
        revoked = False
        if registered is not None:
            given_at = max(
                (
                    when
                    for state, _, when, expires in held.values()
                    if state_in_force(state, expires, now) is ConsentState.GIVEN
                ),
                default=None,
            )
            revoked = rpo_revokes(_utc(registered), exempt, given_at)
        local = local_days.get(municipality)
        if local is None:
            calendar = options.calendar
            local = calendar.local_days(municipality) if calendar else NO_LOCAL_DAYS
            local_days[municipality] = local
        on_channels = channels_of(cid)
        situation = (
            marks,
            _ADDRESSES[bool(email), bool(phone)],
            erased is not None,
            restricted is not None,
            every_of(cid),
            tuple(sorted(on_channels.items())) if on_channels else (),
            bool(held),
            bool(phone and phone.startswith(RPO_PREFIX)),
            min(int(asked or 0), cap_max),
            tz,
            local,
            revoked,
        )
        answer = judged.get(situation)
        if answer is None:
            answer = judged[situation] = _judge(situation, purposes, channel, rules, now, preset)
        for key in (("phone_hash", phone_hash), ("email_hash", email_hash)):
            if key[1]:
                by_key.setdefault(key, []).append(answer)
        by_key.setdefault(("external_id", external_id), []).append(answer)
    return [
        _combined(by_key.get((key.column, key.value), [])) if key else _nobody(INVALID)
        for key in keys
    ]


_NO_MARK = (None, False)


def _mark(held: tuple[Any, ...] | None, now: datetime) -> tuple[ConsentState | None, bool]:
    """A purpose's (state in force, provable) from its row, (None, False) without one."""
    if held is None:
        return _NO_MARK
    state, provable, _when, expires = held
    return state_in_force(state, expires, now), provable


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp read through a scalar subquery (no column type: SQLite gives text)."""
    if value is None or isinstance(value, datetime):
        return ensure_utc(value) if value is not None else None
    return ensure_utc(datetime.fromisoformat(str(value)))


def _judge(
    situation: tuple[Any, ...],
    purposes: Sequence[PurposeRef],
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
    person = person_facts(
        purposes,
        marks,
        addresses,
        erased,
        restricted,
        every,
        channels,
        any_record,
        rpo,
        asked_recently=asked,
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
