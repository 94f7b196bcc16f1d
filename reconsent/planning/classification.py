"""The classification behind a plan: one row per contact with why they are (not) asked.

One SQL select over contacts, the consent-status projection and the suppressions:
``reason`` (an exclusion or ``eligible``), ``basis``, and per channel why that
channel cannot reach the person. Planning (reconsent.planning.planner) counts it and
creates requests from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import ConsentStatus, Contact, SendAttempt, Suppression, Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    ConsentState,
    Exclusion,
    RequestBasis,
    SuppressionReason,
)
from reconsent.kernel.waveconfig import WaveConfig

ELIGIBLE = "eligible"


_OBJECTION_REASONS = (
    SuppressionReason.OBJECTION,
    SuppressionReason.STOP,
    SuppressionReason.UNSUBSCRIBE,
    SuppressionReason.SPAM_REPORT,
)


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


def _consent_summary(config: WaveConfig, purpose_ids: list[int], now: datetime) -> Any:
    cs = ConsentStatus
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
        cs.purpose_id.in_(purpose_ids),
        cs.state == ConsentState.GIVEN,
        cs.occurred_at >= literal(cutoff, UTCDateTime()),
        or_(cs.expires_at.is_(None), cs.expires_at > literal(now, UTCDateTime())),
        notice_ok,
    ]
    if config.stale.unprovable_is_stale:
        fresh_terms.append(cs.provable.is_(True))
    return (
        select(
            cs.contact_id.label("contact_id"),
            func.count().label("n_any"),
            func.sum(case((and_(*fresh_terms), 1), else_=0)).label("n_fresh"),
            func.max(case((cs.state == ConsentState.REFUSED, 1), else_=0)).label("refused"),
            func.max(case((cs.state == ConsentState.WITHDRAWN, 1), else_=0)).label("withdrawn"),
        )
        .group_by(cs.contact_id)
        .subquery("agg")
    )


def classify(session: Session, wave: Wave, now: datetime) -> Any:
    """A subquery: one row per contact with ``reason`` (exclusion or 'eligible'),
    ``basis``, and per channel ``block_<channel>``: why that channel cannot reach
    the person (NULL when it can).

    Two levels: ``facts`` gathers per contact the consent summary, the suppression
    reasons (by contact and by address hash) and the frequency count through
    joins; the outer select only combines those columns.
    """
    config = wave_config(wave)
    purpose_ids = [p.id for p in wave_purposes(session, config)]
    agg = _consent_summary(config, purpose_ids, now)
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
    columns: list[Any] = [
        Contact.id.label("contact_id"),
        Contact.erased_at.is_not(None).label("erased"),
        Contact.restricted_at.is_not(None).label("restricted"),
        func.coalesce(by_contact.c.every, by_email.c.every, by_phone.c.every).label("every"),
        func.coalesce(agg.c.n_any, 0).label("n_any"),
        func.coalesce(agg.c.n_fresh, 0).label("n_fresh"),
        func.coalesce(agg.c.refused, 0).label("refused"),
        func.coalesce(agg.c.withdrawn, 0).label("withdrawn"),
        *[
            case(
                (~has_address[c], literal("no_address")),
                else_=literal("suppressed:") + reason_of[c],
            ).label(f"block_{c.value}")
            for c in Channel
        ],
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
    block = {c: f[f"block_{c.value}"] for c in Channel}
    steps = set(config.channels)
    declared = [c for c in config.lawful_basis if c in steps]
    any_step = or_(*[block[c].is_(None) for c in steps])
    any_declared = or_(*[block[c].is_(None) for c in declared]) if declared else literal(False)
    missing = f.n_any == 0
    whens: list[tuple[ColumnElement[bool], str]] = [
        (f.erased, Exclusion.ERASED.value),
        (f.restricted, Exclusion.RESTRICTED.value),
        (f.every == SuppressionReason.ERASURE.value, Exclusion.ERASED.value),
        (f.every.in_([r.value for r in _OBJECTION_REASONS]), Exclusion.OBJECTED.value),
        (f.every.is_not(None), Exclusion.SUPPRESSED.value),
        (f.withdrawn == 1, Exclusion.WITHDRAWN.value),
        (f.refused == 1, Exclusion.REFUSED.value),
        (f.n_fresh == len(purpose_ids), Exclusion.FRESH.value),
        (
            and_(missing, literal(not config.stale.include_missing)),
            Exclusion.MISSING_NOT_INCLUDED.value,
        ),
        (and_(missing, literal(not declared)), Exclusion.NO_LAWFUL_BASIS.value),
        (and_(missing, ~any_declared), Exclusion.NO_ADDRESS.value),
        (~any_step, Exclusion.NO_ADDRESS.value),
    ]
    if cap is not None:
        whens.append((f.asked >= cap.max_requests, Exclusion.FREQUENCY_CAP.value))
    reason = case(*[(cond, literal(value)) for cond, value in whens], else_=literal(ELIGIBLE))
    basis = case(
        (missing, literal(RequestBasis.DECLARED.value)),
        else_=literal(RequestBasis.PRIOR_CONSENT.value),
    )
    return select(
        f.contact_id, reason.label("reason"), basis.label("basis"), *block.values()
    ).subquery("classified")
