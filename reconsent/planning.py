"""Planning a wave: who is asked, and why everybody else is not (the preflight).

One SQL classification over contacts, the consent-status projection and the
suppressions; one ``INSERT ... SELECT`` of the eligible rows. Idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import ConsentStatus, Contact, SendAttempt, Suppression, Wave, WaveRequest
from models.base import UTCDateTime
from reconsent.db import is_postgres
from reconsent.vocab import (
    AttemptStatus,
    Channel,
    ConsentState,
    Exclusion,
    RequestBasis,
    RequestStatus,
    SuppressionReason,
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
    #: Eligible people a channel cannot reach, per channel and why (the step is skipped).
    channel_skips: dict[str, dict[str, int]] = field(default_factory=dict)
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
            "channel_skips": self.channel_skips,
            "created": self.created,
        }


#: Contact-wide suppression reasons reported as an objection (art. 21) in the preflight.
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
        (and_(missing, literal(not config.stale.include_missing)), "missing_not_included"),
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


def preflight(session: Session, wave: Wave, now: datetime) -> Preflight:
    """Counts only: who would be asked, reachable per channel, and excluded per reason."""
    return _count(session, wave, classify(session, wave, now))


def _count(session: Session, wave: Wave, classified: Any) -> Preflight:
    """Fold classified rows (a subquery or the scratch table) into the preflight counts."""
    config: WaveConfig = wave_config(wave)
    report = Preflight(wave_id=wave.id)
    blocks = [classified.c[f"block_{c.value}"] for c in Channel]
    # Two narrow GROUP BYs are cheaper than one over every column: the channel
    # blocks only matter for the people who will be asked.
    for reason, count in session.execute(
        select(classified.c.reason, func.count())
        .where(classified.c.reason != ELIGIBLE)
        .group_by(classified.c.reason)
    ):
        report.excluded[reason] = int(count)
    rows = session.execute(
        select(classified.c.reason, classified.c.basis, *blocks, func.count())
        .where(classified.c.reason == ELIGIBLE)
        .group_by(classified.c.reason, classified.c.basis, *blocks)
    )
    declared = set(config.lawful_basis)
    for reason, basis, *channel_blocks, count in rows:
        n = int(count)
        if reason != ELIGIBLE:
            report.excluded[reason] = report.excluded.get(reason, 0) + n
            continue
        report.eligible[basis] = report.eligible.get(basis, 0) + n
        for channel, why in zip(Channel, channel_blocks, strict=True):
            if channel not in config.channels:
                continue
            if why is None and basis == RequestBasis.DECLARED.value and channel not in declared:
                why = Exclusion.NO_LAWFUL_BASIS.value
            if why is None:
                report.reachable[channel.value] = report.reachable.get(channel.value, 0) + n
            else:
                skipped = report.channel_skips.setdefault(channel.value, {})
                skipped[why] = skipped.get(why, 0) + n
    return report


def _materialize(session: Session, wave: Wave, now: datetime) -> Table:
    """Classify every contact once, into a temporary table the counts and the request
    creation both read (instead of classifying twice)."""
    columns: list[Column[Any]] = [
        Column("contact_id", Integer),
        Column("reason", String(40)),
        Column("basis", String(20)),
    ]
    columns += [Column(f"block_{c.value}", String(60)) for c in Channel]
    scratch = Table(
        f"plan_scratch_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"]
    )
    scratch.create(session.connection())
    classified = classify(session, wave, now)
    names = [c.name for c in columns]
    session.execute(insert(scratch).from_select(names, select(*[classified.c[n] for n in names])))
    return scratch


def plan_wave(session: Session, wave: Wave, now: datetime) -> Preflight:
    """Create the wave's requests (once) and store the preflight on the wave.

    A wave that requires approval stays a draft, with ``awaiting_approval`` in its
    summary, until :func:`record_approval` says yes.
    """
    config = wave_config(wave)
    approval = (wave.plan_summary or {}).get("approval")
    approved = bool(approval and approval.get("approved"))
    awaiting = wave.status is WaveStatus.DRAFT and config.require_approval and not approved
    if wave.status is WaveStatus.DRAFT and not config.dry_run and not awaiting:
        sqlite = not is_postgres(session)
        if not sqlite:
            # Room for the hash aggregates and joins of this one transaction (the
            # default 4 MB spills a million-contact plan to disk several times).
            session.execute(text("SET LOCAL work_mem = '128MB'"))
        if sqlite:
            # For this pass only: a 64 MB page cache (the bulk insert maintains four
            # indexes; the default is 2 MB). The scratch table lives in memory
            # (temp_store=MEMORY, set on every connection by reconsent.db).
            session.execute(text("PRAGMA cache_size=-65536"))
        scratch = _materialize(session, wave, now)
        if not sqlite:
            session.execute(text(f"ANALYZE {scratch.name}"))  # temp tables get no autovacuum stats
        report = _count(session, wave, scratch)
        count = select(func.count()).where(WaveRequest.wave_id == wave.id)
        before = session.scalar(count) or 0
        source = select(
            literal(wave.id, Integer()),
            scratch.c.contact_id,
            literal(RequestStatus.ACTIVE.value),
            scratch.c.basis,
            literal(0, Integer()),
            null(),
            literal(now, UTCDateTime()),
            literal(now, UTCDateTime()),
        ).where(scratch.c.reason == ELIGIBLE)
        if before:  # planned before (a retried task): never the same person twice
            source = source.where(
                ~exists().where(
                    WaveRequest.wave_id == wave.id,
                    WaveRequest.contact_id == scratch.c.contact_id,
                )
            )
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
        scratch.drop(session.connection())
        if sqlite:  # the connection goes back to the pool: restore its defaults
            session.execute(text("PRAGMA cache_size=-2000"))
        wave.status = WaveStatus.RUNNING
        wave.planned_at = now
    else:
        report = preflight(session, wave, now)
        if wave.status is WaveStatus.DRAFT and config.dry_run:
            wave.status = WaveStatus.PLANNED  # dry run: planned, never sent
            wave.planned_at = now
    summary = report.as_dict()
    summary["awaiting_approval"] = awaiting and not config.dry_run
    if approval:
        summary["approval"] = approval
    wave.plan_summary = summary
    return report


def record_approval(
    session: Session, wave: Wave, *, approved: bool, approver: str, note: str, now: datetime
) -> None:
    """The audience decision of a person (from the Prefect UI); a refusal cancels the wave."""
    summary = dict(wave.plan_summary or {})
    summary["approval"] = {
        "approved": approved,
        "by": approver[:200],
        "note": note[:1000],
        "at": now.isoformat(),
    }
    summary["awaiting_approval"] = False
    wave.plan_summary = summary
    if not approved and wave.status is WaveStatus.DRAFT:
        wave.status = WaveStatus.CANCELLED
        wave.completed_at = now
