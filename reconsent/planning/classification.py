"""The classification behind a plan: one row per contact with why they are (not) asked.

One SQL select over contacts, the consent-status projection and the suppressions:
``reason`` (an exclusion or ``eligible``), ``basis``, and per channel why that
channel cannot reach the person. Planning (reconsent.planning.planner) counts it and
creates requests from it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import ConsentStatus, Contact, Purpose, SendAttempt, Wave, WaveRequest
from models.base import UTCDateTime
from models.consent import Suppression, suppression_in_force
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.db import is_postgres
from reconsent.eligibility.rpo_register import rpo_consulted
from reconsent.kernel.rules.eligibility import (
    BASIS_BLOCKS,
    BASIS_CHANNELS,
    ELIGIBLE,
    OBJECTION_REASONS,
    PRIOR_STATES,
    RPO_PREFIX,
)
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    ConsentState,
    DeclaredBasis,
    Exclusion,
    RequestBasis,
    SuppressionReason,
)
from reconsent.kernel.waveconfig import WaveConfig

__all__ = ["ELIGIBLE", "classify"]

#: How many purposes' consent facts one sum holds (5 fields x 12 = 60 bits of a signed
#: 64-bit integer); see :class:`_ConsentBits`.
PURPOSES_PER_SUM = 12
#: The states that say no to a purpose (it is not asked again).
SAID_NO = frozenset({ConsentState.REFUSED, ConsentState.WITHDRAWN})


def _suppression_facts() -> Any:
    """Per suppressed contact, the smallest suppression reason of each scope: ``every``
    (channel NULL) and one column per channel, from its own rows and from its address
    hashes (a hash suppression on a channel only where that channel uses the address),
    as the send gate reads them.

    Built from the suppressions outwards (each hash found through the contacts' hash
    indexes), so the classification joins one small table by contact id instead of
    looking every contact's two hashes up in it.
    """
    s = Suppression
    uses_phone = [Channel.SMS, Channel.IVR]
    in_force = suppression_in_force()
    rows = union_all(
        select(s.contact_id.label("contact_id"), s.channel, s.reason).where(
            s.contact_id.is_not(None), in_force
        ),
        select(Contact.id, s.channel, s.reason)
        .join(Contact, Contact.email_hash == s.address_hash)
        .where(or_(s.channel.is_(None), s.channel == Channel.EMAIL), in_force),
        select(Contact.id, s.channel, s.reason)
        .join(Contact, Contact.phone_hash == s.address_hash)
        .where(or_(s.channel.is_(None), s.channel.in_(uses_phone)), in_force),
    ).subquery("suppressed_rows")
    scopes: dict[str, ColumnElement[bool]] = {"every": rows.c.channel.is_(None)}
    scopes.update({c.value: rows.c.channel == c for c in Channel})
    return (
        select(
            rows.c.contact_id,
            *[func.min(case((cond, rows.c.reason))).label(n) for n, cond in scopes.items()],
        )
        .group_by(rows.c.contact_id)
        .subquery("suppressed")
    )


def _suppression_pivot(key: Any, name: str) -> Any:
    """Suppressions grouped by ``key`` (contact id or address hash), the smallest reason
    of each scope: ``every`` (channel NULL) and one per channel (PostgreSQL: hashed and
    probed by the contacts' scan itself, where :func:`_suppression_facts` would scan
    the contacts twice more to find each hash's holders)."""
    scopes: dict[str, ColumnElement[bool]] = {"every": Suppression.channel.is_(None)}
    scopes.update({c.value: Suppression.channel == c for c in Channel})
    return (
        select(
            key.label("k"),
            *[func.min(case((cond, Suppression.reason))).label(n) for n, cond in scopes.items()],
        )
        .where(key.is_not(None), suppression_in_force())
        .group_by(key)
        .subquery(name)
    )


def _asked_recently(wave: Wave, since: datetime) -> Any:
    """Per contact: how many requests of other waves reached them since ``since``."""
    return (
        select(WaveRequest.contact_id, func.count(func.distinct(WaveRequest.id)).label("asked"))
        .join(SendAttempt, SendAttempt.request_id == WaveRequest.id)
        .where(
            WaveRequest.wave_id != wave.id,
            SendAttempt.status.in_([AttemptStatus.SENT, AttemptStatus.UNKNOWN]),
            SendAttempt.claimed_at >= literal(since, UTCDateTime()),
        )
        .group_by(WaveRequest.contact_id)
        .subquery("asked")
    )


class _ConsentBits:
    """Per contact, what the rule reads of the wave's purposes, packed as bits of one sum.

    ``consent_status`` holds one row per (contact, purpose), so a sum of distinct
    powers of two per purpose is their OR: each row adds ``2**i`` (the purpose's
    place among the wave's purposes) in each field that holds for it. Fields,
    ``m`` bits apart: ``SETTLED`` (fresh, refused or withdrawn: nothing to ask),
    ``NO`` (refused or withdrawn), ``WITHDRAWN``, ``PRIOR`` (a consent once given,
    lapsed included) and ``OPENS`` (that, provable: it opens the purpose's channel).
    One aggregate instead of one per fact: on SQLite each aggregate call per row is
    what the projection's scan costs. A wave of more than :data:`PURPOSES_PER_SUM`
    purposes gets one sum per slice of them.
    """

    SETTLED, NO, WITHDRAWN, PRIOR, OPENS = range(5)

    def __init__(self, config: WaveConfig, purposes: list[Purpose], now: datetime) -> None:
        cs = ConsentStatus
        per_sum = PURPOSES_PER_SUM
        self.slices = [purposes[i : i + per_sum] for i in range(0, len(purposes), per_sum)]
        cutoff = now - timedelta(days=config.stale.stale_after_days)
        old = config.stale.old_notice_versions
        notice_ok: ColumnElement[bool]
        if "*" in old:
            notice_ok = cs.notice_version == config.notice_version
        elif old:
            notice_ok = or_(cs.notice_version.is_(None), cs.notice_version.not_in(old))
        else:
            notice_ok = literal(True)
        fresh = [
            cs.occurred_at >= literal(cutoff, UTCDateTime()),
            or_(cs.expires_at.is_(None), cs.expires_at > literal(now, UTCDateTime())),
            notice_ok,
        ]
        if config.stale.unprovable_is_stale:
            fresh.append(cs.provable.is_(True))
        self.fresh = and_(*fresh)

    def _flags(self, part: list[Purpose]) -> Any:
        """What one projection row adds, before the shift to its purpose's place."""
        cs = ConsentStatus

        def weight(*fields: int) -> int:
            return sum(1 << (field * len(part)) for field in fields)

        whens: list[tuple[ColumnElement[bool], Any]] = []
        for state in ConsentState:
            if state in PRIOR_STATES:
                value: Any = weight(self.PRIOR) + case(
                    (cs.provable.is_(True), weight(self.OPENS)), else_=0
                )
                if state is ConsentState.GIVEN:
                    value = value + case((self.fresh, weight(self.SETTLED)), else_=0)
            elif state in SAID_NO:
                said = [self.SETTLED, self.NO]
                value = (
                    weight(*said, self.WITHDRAWN)
                    if state is ConsentState.WITHDRAWN
                    else weight(*said)
                )
            else:
                continue
            whens.append((cs.state == state, value))
        return case(*whens, else_=0)

    def sums(self) -> list[Any]:
        """The aggregate columns (``bits_0``, ...) of a query grouped by contact."""
        columns = []
        for n, part in enumerate(self.slices):
            place = case(
                {p.id: 1 << i for i, p in enumerate(part)}, value=ConsentStatus.purpose_id, else_=0
            )
            total = func.sum(cast(place, BigInteger) * self._flags(part))
            columns.append(cast(total, BigInteger).label(f"bits_{n}"))
        return columns

    def _masks(self, field: int, codes: set[str] | None) -> list[tuple[int, int]]:
        """(slice, mask of ``field`` over the purposes in ``codes``; None: all of them)."""
        found = []
        for n, part in enumerate(self.slices):
            mask = sum(
                1 << (field * len(part) + i)
                for i, p in enumerate(part)
                if codes is None or p.code in codes
            )
            if mask:
                found.append((n, mask))
        return found

    def every(self, row: Any, field: int) -> ColumnElement[bool]:
        """``field`` holds for every purpose of the wave."""
        return and_(*[row[f"bits_{n}"].op("&")(m) == m for n, m in self._masks(field, None)])

    def some(self, row: Any, field: int, codes: set[str] | None = None) -> ColumnElement[bool]:
        """``field`` holds for one of the wave's purposes (among ``codes``) at least."""
        masks = self._masks(field, codes)
        if not masks:
            return literal(False)
        return or_(*[row[f"bits_{n}"].op("&")(m) != 0 for n, m in masks])


def _suppressions_of(
    p: Any, postgres: bool
) -> tuple[Any, dict[Channel, Any], Callable[[Select[Any]], Select[Any]]]:
    """The person's every-channel suppression reason, the reason per channel, and how
    to join them to a select from ``person`` (its columns ``p``)."""
    if not postgres:
        sup = _suppression_facts()
        reason_of = {c: sup.c[c.value] for c in Channel}
        return sup.c.every, reason_of, lambda q: q.outerjoin(sup, sup.c.contact_id == p.contact_id)
    pivots = [
        (_suppression_pivot(Suppression.contact_id, "sup_contact"), p.contact_id),
        (_suppression_pivot(Suppression.address_hash, "sup_email"), p.email_hash),
        (_suppression_pivot(Suppression.address_hash, "sup_phone"), p.phone_hash),
    ]
    own, email, phone = (pivot.c for pivot, _ in pivots)
    reason_of = {
        Channel.EMAIL: func.least(own.email, email.email),  # LEAST skips NULLs
        Channel.SMS: func.least(own.sms, phone.sms),
        Channel.IVR: func.least(own.ivr, phone.ivr),
    }

    def join(query: Select[Any]) -> Select[Any]:
        for pivot, key in pivots:
            query = query.outerjoin(pivot, pivot.c.k == key)
        return query

    return func.least(own.every, email.every, phone.every), reason_of, join


def classify(session: Session, wave: Wave, now: datetime, rpo_fresh: bool | None = None) -> Any:
    """A subquery: one row per contact with ``reason`` (exclusion or 'eligible'),
    ``basis``, per channel ``block_<channel>``: why that channel cannot reach the
    person (NULL when it can, or when the wave has no step on it), and
    ``every_suppressed`` (an every-channel suppression, by contact or address).

    The same rule as :func:`reconsent.kernel.rules.eligibility.evaluate`, as SQL (the
    case table in ``tests/integration/test_eligibility_cases.py`` holds them equal).
    Three levels: ``person`` is each contact with its consent rows folded into bits
    (:class:`_ConsentBits`), grouped by the contact's key (a scan of contacts with
    one index seek each into the projection: no hash of the projection to build and
    probe); ``facts`` adds the suppressions and the frequency count, each joined by
    contact id; the outer select only combines those columns.
    """
    config = wave_config(wave)
    purposes = wave_purposes(session, config)
    if rpo_fresh is None:
        rpo_fresh = rpo_consulted(session, now)
    bits = _ConsentBits(config, purposes, now)
    postgres = is_postgres(session)
    hashes = [Contact.email_hash, Contact.phone_hash] if postgres else []
    person = (
        select(
            Contact.id.label("contact_id"),
            Contact.erased_at,
            Contact.restricted_at,
            Contact.email,
            Contact.phone,
            *hashes,
            Contact.customer_since,
            func.count(ConsentStatus.contact_id).label("n_any"),
            *bits.sums(),
        )
        .select_from(Contact)
        .outerjoin(ConsentStatus, ConsentStatus.contact_id == Contact.id)
        .group_by(Contact.id)
        .subquery("person")
    )
    p = person.c
    every, reason_of, join_suppressions = _suppressions_of(p, postgres)
    has_address = {
        Channel.EMAIL: p.email.is_not(None),
        Channel.SMS: p.phone.is_not(None),
        Channel.IVR: p.phone.is_not(None),
    }
    steps = list(dict.fromkeys(config.channels))

    def opened(channel: Channel) -> tuple[ColumnElement[bool], str] | None:
        """When the channel's basis holds, and the block word when it does not."""
        bound = {q.code for q in purposes if q.channel is channel}
        prior = bits.some(p, bits.OPENS, bound) if bound else None
        declared = config.lawful_basis.get(channel)
        if declared is DeclaredBasis.SOFT_SPAM and channel in BASIS_CHANNELS[declared]:
            customer = p.customer_since.is_not(None)
            if prior is None:
                return customer, "not_customer"
            return or_(prior, customer), "not_customer"
        if prior is None:
            return None
        return prior, "no_channel_consent"

    def block(channel: Channel) -> Any:
        if channel not in steps:
            return null()
        basis = opened(channel)
        whens: list[tuple[ColumnElement[bool], Any]] = [
            (~has_address[channel], literal("no_address")),
            (reason_of[channel].is_not(None), literal("suppressed:") + reason_of[channel]),
        ]
        if channel is Channel.IVR and not rpo_fresh:
            whens.append((p.phone.startswith(RPO_PREFIX), literal("rpo_not_consulted")))
        if basis is None:
            return case(*whens, else_=literal("no_channel_consent"))
        condition, word = basis
        whens.append((~condition, literal(word)))
        return case(*whens, else_=null())

    columns: list[Any] = [
        p.contact_id,
        p.erased_at.is_not(None).label("erased"),
        p.restricted_at.is_not(None).label("restricted"),
        every.label("every"),
        p.n_any,
        bits.every(p, bits.NO).label("all_no"),
        bits.some(p, bits.WITHDRAWN).label("withdrawn"),
        bits.every(p, bits.SETTLED).label("settled"),
        bits.some(p, bits.PRIOR).label("prior"),
        *[block(c).label(f"block_{c.value}") for c in Channel],
    ]
    facts_query = join_suppressions(select(*columns).select_from(person))
    cap = config.frequency_cap
    if cap is not None:
        asked = _asked_recently(wave, now - timedelta(days=cap.days))
        facts_query = facts_query.add_columns(
            func.coalesce(asked.c.asked, 0).label("asked")
        ).outerjoin(asked, asked.c.contact_id == p.contact_id)
    if not postgres:
        # An OFFSET keeps SQLite from flattening ``facts`` into the outer select, which
        # would compute each channel block once per reference to it (four times).
        facts_query = facts_query.offset(0)
    facts = facts_query.subquery("facts")
    f = facts.c
    blocks = {c: f[f"block_{c.value}"] for c in Channel}
    step_blocks = [blocks[c] for c in steps]
    all_blocked = and_(*[b.is_not(None) for b in step_blocks])
    basis_blocked = or_(*[b.in_(sorted(BASIS_BLOCKS)) for b in step_blocks])
    some_suppressed = or_(*[b.like("suppressed:%") for b in step_blocks])
    whens: list[tuple[ColumnElement[bool], str]] = [
        (f.erased, Exclusion.ERASED.value),
        (f.restricted, Exclusion.RESTRICTED.value),
        (f.every == SuppressionReason.ERASURE.value, Exclusion.ERASED.value),
        (f.every.in_([r.value for r in OBJECTION_REASONS]), Exclusion.OBJECTED.value),
        (f.every.is_not(None), Exclusion.SUPPRESSED.value),
        (and_(f.all_no, f.withdrawn), Exclusion.WITHDRAWN.value),
        (f.all_no, Exclusion.REFUSED.value),
        (f.settled, Exclusion.FRESH.value),
        (
            and_(f.n_any == 0, literal(not config.stale.include_missing)),
            Exclusion.MISSING_NOT_INCLUDED.value,
        ),
        (and_(all_blocked, basis_blocked), Exclusion.NO_LAWFUL_BASIS.value),
        (and_(all_blocked, some_suppressed), Exclusion.SUPPRESSED.value),
        (all_blocked, Exclusion.NO_ADDRESS.value),
    ]
    if cap is not None:
        whens.append((f.asked >= cap.max_requests, Exclusion.FREQUENCY_CAP.value))
    reason = case(*[(cond, literal(value)) for cond, value in whens], else_=literal(ELIGIBLE))
    basis = case(
        (f.prior, literal(RequestBasis.PRIOR_CONSENT.value)),
        else_=literal(RequestBasis.DECLARED.value),
    )
    # Whether the person has an every-channel suppression: their "suppressed" is then a
    # "no" (reconsent.kernel.rules.same_person), not every step's channel suppressed.
    said_no = f.every.is_not(None).label("every_suppressed")
    return select(
        f.contact_id, reason.label("reason"), basis.label("basis"), *blocks.values(), said_no
    ).subquery("classified")
