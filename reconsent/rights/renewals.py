"""Fresh links for expired ones: asked from the 410 page, sent on the link's own channel.

A person who opens an expired link can press "send me a fresh link"; the
portal calls :func:`request_link_renewal`, which records a ``link_renewal``
rights request (one open request per wave request: pressing again changes
nothing).  :func:`send_link_renewals` is what a tick calls to act on them:

1. in one transaction, each open renewal is checked and claimed (its status
   moves from ``open`` to ``completed`` with a compare-and-set, so two
   callers never send it twice).  It is declined, for good, when the person
   may not be contacted: erased, restricted, suppressed on every channel
   (objection, unsubscribe, erasure, STOP...) or on that channel, or no
   address.  A refusal or withdrawal does not decline it: the person asked
   for the link themselves, to decide again.  Outside the channel's calling
   hours (the wave's ``quiet_hours`` in the contact's timezone) it waits;
2. the message of the original step is sent again through the channel
   adapters, with links freshly signed at ``now`` (the same attempt id: a
   provider callback updates that attempt; the file outbox rewrites that
   attempt's file);
3. in one transaction the results are recorded: the provider message id in
   the request's details, or the renewal reopened after a transient error,
   or declined after a permanent one.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from models import (
    Contact,
    RightsRequest,
    SendAttempt,
    Suppression,
    Wave,
    WaveRequest,
    suppression_in_force,
)
from reconsent.campaigns.notices import message_context
from reconsent.campaigns.waves import wave_config
from reconsent.db import unit_of_work
from reconsent.dispatch.message_links import Links
from reconsent.eligibility.send_gate import person_gate
from reconsent.kernel.ports import ChannelAdapter, OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.rules.escalation import channel_block
from reconsent.kernel.rules.quiet_hours import is_allowed
from reconsent.kernel.vocab import Channel, RightsKind, RightsStatus
from reconsent.rights.subject_requests import Origin, record_rights_request
from reconsent.settings import Settings

__all__ = ["RenewalReport", "request_link_renewal", "send_link_renewals"]


@dataclass
class RenewalReport:
    """Aggregate counts only: safe for logs and Prefect artifacts."""

    sent: Counter[str] = field(default_factory=Counter)
    declined: Counter[str] = field(default_factory=Counter)
    waiting: int = 0
    retrying: int = 0


def request_link_renewal(
    session: Session, *, contact: Contact, step_index: int, now: datetime, origin: Origin
) -> tuple[RightsRequest, bool]:
    """Record that the person asked for a fresh link: at most one per request and link
    lifetime (a pending one, or one sent within the lifetime, answers every later ask:
    a fresh link is a message too, and the 410 page must not become a way to send many)."""
    if origin.request_id is not None:
        request = session.get(WaveRequest, origin.request_id)
        lifetime = (
            wave_config(session.get_one(Wave, request.wave_id)).link_lifetime_delta
            if request is not None
            else None
        )
        recent = [RightsRequest.status == RightsStatus.OPEN]
        if lifetime is not None:
            recent.append(
                and_(
                    RightsRequest.status == RightsStatus.COMPLETED,
                    RightsRequest.received_at > now - lifetime,
                )
            )
        earlier = session.scalar(
            select(RightsRequest)
            .where(
                RightsRequest.kind == RightsKind.LINK_RENEWAL,
                RightsRequest.request_id == origin.request_id,
                or_(*recent),
            )
            .order_by(RightsRequest.id.desc())
            .limit(1)
        )
        if earlier is not None:
            return earlier, True
    return record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.LINK_RENEWAL,
        now=now,
        origin=origin,
        details={"step_index": step_index},
    )


def _contact_wide_suppression(session: Session, contact: Contact) -> str | None:
    hashes = [h for h in (contact.email_hash, contact.phone_hash) if h]
    reason = session.scalar(
        select(Suppression.reason)
        .where(
            Suppression.channel.is_(None),
            or_(Suppression.contact_id == contact.id, Suppression.address_hash.in_(hashes)),
            suppression_in_force(),
        )
        .limit(1)
    )
    return None if reason is None else str(reason.value)


def _why_not(
    session: Session, renewal: RightsRequest, contact: Contact, attempt: SendAttempt | None
) -> str | None:
    """Why this renewal may never be sent (None: it may)."""
    if contact.erased_at is not None:
        return "erased"
    if contact.restricted_at is not None:
        return "restricted"
    if renewal.channel is None or attempt is None:
        return "no_original_message"
    suppressed = _contact_wide_suppression(session, contact)
    if suppressed is not None:
        return suppressed
    request = session.get_one(WaveRequest, renewal.request_id)
    wave = session.get_one(Wave, request.wave_id)
    # Asked for by the person, on the link's own channel: no marketing basis needed, but
    # never for someone who refused or withdrew every purpose, objected or is suppressed.
    gate = person_gate(session, contact, wave, channels=[renewal.channel], requested=True)
    return gate.blocked or channel_block(renewal.channel, gate)


def _claim(
    session: Session, settings: Settings, now: datetime, limit: int, report: RenewalReport
) -> tuple[str, list[OutboundMessage]]:
    claim = uuid.uuid4().hex
    links = Links.issued_at(settings.portal_base_url, settings.link_signing_keys(), now)
    calendar = settings.patron_calendar()
    rows = session.execute(
        select(RightsRequest, WaveRequest, Wave, Contact)
        .join(WaveRequest, WaveRequest.id == RightsRequest.request_id)
        .join(Wave, Wave.id == WaveRequest.wave_id)
        .join(Contact, Contact.id == RightsRequest.contact_id)
        .where(
            RightsRequest.kind == RightsKind.LINK_RENEWAL,
            RightsRequest.status == RightsStatus.OPEN,
        )
        .order_by(RightsRequest.id)
        .limit(limit)
    ).all()
    messages: list[OutboundMessage] = []
    for renewal, request, wave, contact in rows:
        step = int(renewal.details.get("step_index", 0))
        attempt = session.scalar(
            select(SendAttempt).where(
                SendAttempt.request_id == request.id, SendAttempt.step_index == step
            )
        )
        reason = _why_not(session, renewal, contact, attempt)
        if reason is not None:
            _finish(renewal, RightsStatus.DECLINED, now, {"declined": reason})
            report.declined[reason] += 1
            continue
        assert renewal.channel is not None and attempt is not None  # _why_not checked both
        config = wave_config(wave)
        preset = config.quiet_hours.preset(renewal.channel)
        if not is_allowed(now, contact.timezone, preset, calendar.local_days(contact.municipality)):
            report.waiting += 1
            continue
        won = session.execute(
            update(RightsRequest)
            .where(RightsRequest.id == renewal.id, RightsRequest.status == RightsStatus.OPEN)
            .values(status=RightsStatus.COMPLETED, completed_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            continue  # another caller claimed it
        renewal.details = {**renewal.details, "claim": claim}
        context = replace(
            message_context(session, wave, contact.locale, settings), basis=request.basis
        )
        messages.append(links.message(attempt, contact, renewal.channel, context))
    return claim, messages


def _finish(
    renewal: RightsRequest, status: RightsStatus, now: datetime, extra: dict[str, Any]
) -> None:
    renewal.status = status
    renewal.completed_at = now if status is not RightsStatus.OPEN else None
    renewal.details = {**renewal.details, **extra}


def _send(
    adapters: Mapping[Channel, ChannelAdapter], messages: list[OutboundMessage]
) -> list[SendResult]:
    results: list[SendResult] = []
    for channel in Channel:
        batch = [m for m in messages if m.channel is channel]
        if batch:
            results.extend(adapters[channel].send(batch))
    return results


def send_link_renewals(
    engine: Engine,
    settings: Settings,
    adapters: Mapping[Channel, ChannelAdapter],
    now: datetime,
    *,
    limit: int = 500,
) -> RenewalReport:
    """Send the fresh links people asked for (at most ``limit`` per call)."""
    report = RenewalReport()
    with unit_of_work(engine) as session:
        claim, messages = _claim(session, settings, now, limit, report)
    if not messages:
        return report
    results = {r.attempt_id: r for r in _send(adapters, messages)}
    with unit_of_work(engine) as session:
        for renewal in session.scalars(
            select(RightsRequest).where(
                RightsRequest.kind == RightsKind.LINK_RENEWAL,
                RightsRequest.status == RightsStatus.COMPLETED,
                RightsRequest.request_id.in_([m.request_id for m in messages]),
            )
        ):
            if renewal.details.get("claim") != claim:
                continue
            message = next(m for m in messages if m.request_id == renewal.request_id)
            result = results.get(message.attempt_id)
            channel = message.channel.value
            if result is not None and result.outcome is SendOutcome.SENT:
                _finish(renewal, RightsStatus.COMPLETED, now, {"sent": result.provider_message_id})
                report.sent[channel] += 1
            elif result is not None and result.outcome is SendOutcome.PERMANENT:
                _finish(renewal, RightsStatus.DECLINED, now, {"declined": result.error_code})
                report.declined[f"{channel}:{result.error_code}"] += 1
            else:
                _finish(renewal, RightsStatus.OPEN, now, {"last_error": "transient"})
                report.retrying += 1
    return report
