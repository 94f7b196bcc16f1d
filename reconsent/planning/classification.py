"""The classification behind a plan: one row per contact with why they are (not) asked.

One SQL select over contacts, the consent-status projection and the suppressions:
``reason`` (an exclusion or ``eligible``), ``basis``, and per channel why that
channel cannot reach the person. Planning (reconsent.planning.planner) counts it and
creates requests from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, null, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import ConsentStatus, Contact, Purpose, SendAttempt, Suppression, Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.campaigns.waves import wave_config, wave_purposes
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


def _suppression_pivot(key: Any, name: str) -> Any:
    """Suppressions grouped by ``key`` (contact id or address hash), one reason column per
    scope: ``every`` (channel NULL) and one per channel. Joined by key, never correlated:
    a correlated lookup per contact and scope is what made planning crawl."""
    scopes: dict[str, ColumnElement[bool]] = {"every": Suppression.channel.is_(None)}
    scopes.update({c.value: Suppression.channel == c for c in Channel})
    return (
        select(
            key.label("k"),
            *[func.min(case((cond, Suppression.reason))).label(n) for n, cond in scopes.items()],
        )
        .where(key.is_not(None))
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


def _consent_summary(
    config: WaveConfig, purposes: list[Purpose], now: datetime
) -> tuple[Any, dict[Channel, str]]:
    """Per contact: the consent facts the rule reads, one aggregate over the projection.

    ``n_any`` counts every record (any purpose); the others only the wave's purposes:
    ``n_fresh`` fresh ones, ``n_no`` refused or withdrawn ones, ``withdrawn``,
    ``prior`` (a consent once given) and, per channel, ``prior_<channel>``: a provable
    consent once given for a purpose of the wave bound to that channel.
    """
    cs = ConsentStatus
    ids = [p.id for p in purposes]
    in_wave = cs.purpose_id.in_(ids)
    cutoff = now - timedelta(days=config.stale.stale_after_days)
    notice_ok: ColumnElement[bool]
    old = config.stale.old_notice_versions
    if "*" in old:
        notice_ok = cs.notice_version == config.notice_version
    elif old:
        notice_ok = or_(cs.notice_version.is_(None), cs.notice_version.not_in(old))
    else:
        notice_ok = literal(True)
    fresh_terms = [
        in_wave,
        cs.state == ConsentState.GIVEN,
        cs.occurred_at >= literal(cutoff, UTCDateTime()),
        or_(cs.expires_at.is_(None), cs.expires_at > literal(now, UTCDateTime())),
        notice_ok,
    ]
    if config.stale.unprovable_is_stale:
        fresh_terms.append(cs.provable.is_(True))
    prior_states = [s.value for s in PRIOR_STATES]
    said_no = [ConsentState.REFUSED.value, ConsentState.WITHDRAWN.value]
    columns: list[Any] = [
        cs.contact_id.label("contact_id"),
        func.count().label("n_any"),
        func.sum(case((and_(*fresh_terms), 1), else_=0)).label("n_fresh"),
        func.sum(case((and_(in_wave, cs.state.in_(said_no)), 1), else_=0)).label("n_no"),
        func.max(case((and_(in_wave, cs.state == ConsentState.WITHDRAWN), 1), else_=0)).label(
            "withdrawn"
        ),
        func.max(case((and_(in_wave, cs.state.in_(prior_states)), 1), else_=0)).label("prior"),
    ]
    prior_of: dict[Channel, str] = {}
    for channel in config.channels:
        bound = [p.id for p in purposes if p.channel is channel]
        if not bound or channel in prior_of:
            continue
        name = prior_of[channel] = f"prior_{channel.value}"
        opens = and_(cs.purpose_id.in_(bound), cs.state.in_(prior_states), cs.provable.is_(True))
        columns.append(func.max(case((opens, 1), else_=0)).label(name))
    return select(*columns).group_by(cs.contact_id).subquery("agg"), prior_of


def classify(session: Session, wave: Wave, now: datetime, rpo_fresh: bool | None = None) -> Any:
    """A subquery: one row per contact with ``reason`` (exclusion or 'eligible'),
    ``basis``, and per channel ``block_<channel>``: why that channel cannot reach
    the person (NULL when it can, or when the wave has no step on it).

    The same rule as :func:`reconsent.kernel.rules.eligibility.evaluate`, as SQL (the
    case table in ``tests/integration/test_eligibility_cases.py`` holds them equal).
    Two levels: ``facts`` gathers per contact the consent summary, the suppression
    reasons (by contact and by address hash) and the frequency count through
    joins; the outer select only combines those columns.
    """
    config = wave_config(wave)
    purposes = wave_purposes(session, config)
    if rpo_fresh is None:
        rpo_fresh = rpo_consulted(session, now)
    agg, prior_of = _consent_summary(config, purposes, now)
    by_contact = _suppression_pivot(Suppression.contact_id, "sup_contact")
    by_email = _suppression_pivot(Suppression.address_hash, "sup_email")
    by_phone = _suppression_pivot(Suppression.address_hash, "sup_phone")
    reason_of = {
        Channel.EMAIL: func.coalesce(by_contact.c.email, by_email.c.email),
        Channel.SMS: func.coalesce(by_contact.c.sms, by_phone.c.sms),
        Channel.IVR: func.coalesce(by_contact.c.ivr, by_phone.c.ivr),
    }
    has_address = {
        Channel.EMAIL: Contact.email.is_not(None),
        Channel.SMS: Contact.phone.is_not(None),
        Channel.IVR: Contact.phone.is_not(None),
    }
    steps = list(dict.fromkeys(config.channels))

    def opened(channel: Channel) -> tuple[ColumnElement[bool], str] | None:
        """When the channel's basis holds, and the block word when it does not."""
        prior = prior_of.get(channel)
        declared = config.lawful_basis.get(channel)
        if declared is DeclaredBasis.SOFT_SPAM and channel in BASIS_CHANNELS[declared]:
            customer = Contact.customer_since.is_not(None)
            if prior is None:
                return customer, "not_customer"
            return or_(func.coalesce(agg.c[prior], 0) == 1, customer), "not_customer"
        if prior is None:
            return None
        return func.coalesce(agg.c[prior], 0) == 1, "no_channel_consent"

    def block(channel: Channel) -> Any:
        if channel not in steps:
            return null()
        basis = opened(channel)
        whens: list[tuple[ColumnElement[bool], Any]] = [
            (~has_address[channel], literal("no_address")),
            (reason_of[channel].is_not(None), literal("suppressed:") + reason_of[channel]),
        ]
        if channel is Channel.IVR and not rpo_fresh:
            whens.append((Contact.phone.startswith(RPO_PREFIX), literal("rpo_not_consulted")))
        if basis is None:
            return case(*whens, else_=literal("no_channel_consent"))
        condition, word = basis
        whens.append((~condition, literal(word)))
        return case(*whens, else_=null())

    columns: list[Any] = [
        Contact.id.label("contact_id"),
        Contact.erased_at.is_not(None).label("erased"),
        Contact.restricted_at.is_not(None).label("restricted"),
        func.coalesce(by_contact.c.every, by_email.c.every, by_phone.c.every).label("every"),
        func.coalesce(agg.c.n_any, 0).label("n_any"),
        func.coalesce(agg.c.n_fresh, 0).label("n_fresh"),
        func.coalesce(agg.c.n_no, 0).label("n_no"),
        func.coalesce(agg.c.withdrawn, 0).label("withdrawn"),
        func.coalesce(agg.c.prior, 0).label("prior"),
        *[block(c).label(f"block_{c.value}") for c in Channel],
    ]
    facts_query = (
        select(*columns)
        .select_from(Contact)
        .outerjoin(agg, agg.c.contact_id == Contact.id)
        .outerjoin(by_contact, by_contact.c.k == Contact.id)
        .outerjoin(by_email, by_email.c.k == Contact.email_hash)
        .outerjoin(by_phone, by_phone.c.k == Contact.phone_hash)
    )
    cap = config.frequency_cap
    if cap is not None:
        asked = _asked_recently(wave, now - timedelta(days=cap.days))
        facts_query = facts_query.add_columns(
            func.coalesce(asked.c.asked, 0).label("asked")
        ).outerjoin(asked, asked.c.contact_id == Contact.id)
    facts = facts_query.subquery("facts")
    f = facts.c
    blocks = {c: f[f"block_{c.value}"] for c in Channel}
    step_blocks = [blocks[c] for c in steps]
    all_blocked = and_(*[b.is_not(None) for b in step_blocks])
    basis_blocked = or_(*[b.in_(sorted(BASIS_BLOCKS)) for b in step_blocks])
    some_suppressed = or_(*[b.like("suppressed:%") for b in step_blocks])
    n_purposes = len(purposes)
    whens: list[tuple[ColumnElement[bool], str]] = [
        (f.erased, Exclusion.ERASED.value),
        (f.restricted, Exclusion.RESTRICTED.value),
        (f.every == SuppressionReason.ERASURE.value, Exclusion.ERASED.value),
        (f.every.in_([r.value for r in OBJECTION_REASONS]), Exclusion.OBJECTED.value),
        (f.every.is_not(None), Exclusion.SUPPRESSED.value),
        (and_(f.n_no == n_purposes, f.withdrawn == 1), Exclusion.WITHDRAWN.value),
        (f.n_no == n_purposes, Exclusion.REFUSED.value),
        (f.n_fresh + f.n_no == n_purposes, Exclusion.FRESH.value),
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
        (f.prior == 1, literal(RequestBasis.PRIOR_CONSENT.value)),
        else_=literal(RequestBasis.DECLARED.value),
    )
    return select(
        f.contact_id, reason.label("reason"), basis.label("basis"), *blocks.values()
    ).subquery("classified")
