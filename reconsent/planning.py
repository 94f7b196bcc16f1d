"""Planning a wave: who is asked, and why everybody else is not (the preflight).

The classification is one SQL statement over contacts and the consent-status
projection; request creation is one ``INSERT ... SELECT`` of the eligible
rows, so planning scales with the database, not with Python.  Planning is
idempotent: a contact already in the wave is never inserted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import ConsentStatus, Contact, Suppression, Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.vocab import (
    Channel,
    ConsentState,
    Exclusion,
    RequestBasis,
    RequestStatus,
    WaveStatus,
)
from reconsent.waveconfig import WaveConfig
from reconsent.waves import wave_config, wave_purposes

ELIGIBLE = "eligible"


@dataclass
class Preflight:
    wave_id: int
    eligible: dict[str, int] = field(default_factory=dict)  # per basis
    reachable: dict[str, int] = field(default_factory=dict)  # eligible people reachable per channel
    excluded: dict[str, int] = field(default_factory=dict)  # per exclusion reason
    created: int = 0  # requests inserted by this planning run

    @property
    def eligible_total(self) -> int:
        return sum(self.eligible.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "wave_id": self.wave_id,
            "eligible_total": self.eligible_total,
            "eligible": self.eligible,
            "reachable": self.reachable,
            "excluded": self.excluded,
            "created": self.created,
        }


def _suppressed(channel: Channel | None, address: Any) -> ColumnElement[bool]:
    """EXISTS a suppression for the contact or its address on ``channel`` (None: all)."""
    who: list[ColumnElement[bool]] = [Suppression.contact_id == Contact.id]
    if address is not None:
        who.append(and_(address.is_not(None), Suppression.address_hash == address))
    scope = Suppression.channel.is_(None) if channel is None else Suppression.channel == channel
    return exists().where(scope, or_(*who))


def classify(session: Session, wave: Wave, now: datetime) -> Any:
    """A subquery: one row per contact with ``reason`` (exclusion or 'eligible'),
    ``basis`` and reachability flags per channel."""
    config = wave_config(wave)
    purpose_ids = [p.id for p in wave_purposes(session, config)]
    cutoff = now - timedelta(days=config.stale.stale_after_days)
    cs = ConsentStatus
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
    agg = (
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
    reach = {
        Channel.EMAIL: and_(
            Contact.email.is_not(None), ~_suppressed(Channel.EMAIL, Contact.email_hash)
        ),
        Channel.SMS: and_(
            Contact.phone.is_not(None), ~_suppressed(Channel.SMS, Contact.phone_hash)
        ),
        Channel.IVR: and_(
            Contact.phone.is_not(None), ~_suppressed(Channel.IVR, Contact.phone_hash)
        ),
    }
    steps = set(config.channels)
    declared = [c for c in config.lawful_basis if c in steps]
    any_step = or_(*[reach[c] for c in steps])
    any_declared = or_(*[reach[c] for c in declared]) if declared else literal(False)
    missing = func.coalesce(agg.c.n_any, 0) == 0
    suppressed_all = or_(
        _suppressed(None, Contact.email_hash), _suppressed(None, Contact.phone_hash)
    )
    reason = case(
        (Contact.erased_at.is_not(None), literal(Exclusion.ERASED.value)),
        (Contact.restricted_at.is_not(None), literal(Exclusion.RESTRICTED.value)),
        (suppressed_all, literal(Exclusion.SUPPRESSED.value)),
        (agg.c.withdrawn == 1, literal(Exclusion.WITHDRAWN.value)),
        (agg.c.refused == 1, literal(Exclusion.REFUSED.value)),
        (agg.c.n_fresh == len(purpose_ids), literal(Exclusion.FRESH.value)),
        (and_(missing, literal(not config.stale.include_missing)), literal("missing_not_included")),
        (and_(missing, literal(not declared)), literal(Exclusion.NO_LAWFUL_BASIS.value)),
        (and_(missing, ~any_declared), literal(Exclusion.NO_ADDRESS.value)),
        (~any_step, literal(Exclusion.NO_ADDRESS.value)),
        else_=literal(ELIGIBLE),
    )
    basis = case(
        (missing, literal(RequestBasis.DECLARED.value)),
        else_=literal(RequestBasis.PRIOR_CONSENT.value),
    )
    flags = [
        case((reach[c], 1), else_=0).label(f"reach_{c.value}")
        for c in (Channel.EMAIL, Channel.SMS, Channel.IVR)
    ]
    return (
        select(Contact.id.label("contact_id"), reason.label("reason"), basis.label("basis"), *flags)
        .select_from(Contact)
        .outerjoin(agg, agg.c.contact_id == Contact.id)
        .subquery("classified")
    )


def preflight(session: Session, wave: Wave, now: datetime) -> Preflight:
    """Counts only: who would be asked, reachable per channel, and excluded per reason."""
    config: WaveConfig = wave_config(wave)
    classified = classify(session, wave, now)
    report = Preflight(wave_id=wave.id)
    rows = session.execute(
        select(
            classified.c.reason,
            classified.c.basis,
            func.count(),
            *[func.sum(classified.c[f"reach_{c.value}"]).label(c.value) for c in Channel],
        ).group_by(classified.c.reason, classified.c.basis)
    )
    declared = set(config.lawful_basis)
    for reason, basis, count, *reach in rows:
        if reason != ELIGIBLE:
            report.excluded[reason] = report.excluded.get(reason, 0) + int(count)
            continue
        report.eligible[basis] = report.eligible.get(basis, 0) + int(count)
        for channel, n in zip(Channel, reach, strict=True):
            if channel not in config.channels:
                continue
            if basis == RequestBasis.DECLARED.value and channel not in declared:
                continue
            report.reachable[channel.value] = report.reachable.get(channel.value, 0) + int(n or 0)
    return report


def plan_wave(session: Session, wave: Wave, now: datetime) -> Preflight:
    """Create the wave's requests (once) and store the preflight on the wave."""
    report = preflight(session, wave, now)
    if wave.status is WaveStatus.DRAFT and not wave_config(wave).dry_run:
        classified = classify(session, wave, now)
        already = exists().where(
            WaveRequest.wave_id == wave.id, WaveRequest.contact_id == classified.c.contact_id
        )
        source = select(
            literal(wave.id, Integer()),
            classified.c.contact_id,
            literal(RequestStatus.ACTIVE.value),
            classified.c.basis,
            literal(0, Integer()),
            null(),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        ).where(classified.c.reason == ELIGIBLE, ~already)
        count = select(func.count()).where(WaveRequest.wave_id == wave.id)
        before = session.scalar(count) or 0
        session.execute(
            insert(WaveRequest).from_select(
                [
                    "wave_id",
                    "contact_id",
                    "status",
                    "basis",
                    "step_index",
                    "step_sent_at",
                    "next_action_at",
                    "created_at",
                ],
                source,
            )
        )
        # Counted, not rowcount: psycopg reports -1 for INSERT ... SELECT through SQLAlchemy 2.1.
        report.created = (session.scalar(count) or 0) - before
        wave.status = WaveStatus.RUNNING
        wave.planned_at = now
    elif wave.status is WaveStatus.DRAFT:
        wave.status = WaveStatus.PLANNED  # dry run: planned, never sent
        wave.planned_at = now
    wave.plan_summary = report.as_dict()
    return report
