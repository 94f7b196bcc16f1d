"""Advancing a wave's requests: decide, claim, send, record.

One call handles one id range of one wave in up to three rounds (so a
permanent failure escalates to the next channel at once):

1. in one transaction: lock the due requests (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), re-read the gate, ``decide`` each request, record skips,
   expiries and cancellations, and **claim** the sends: an attempt row per
   (request, step) with this batch's claim token, committed before any
   provider is called;
2. outside any transaction: render and send through the channel adapters;
3. in one transaction: record each result (sent, retry with backoff, failed).

A crash between 1 and 3 leaves claims behind; ``decide`` presumes them sent
after the lease (at most once) or re-sends them where the adapter is
idempotent (the file outbox).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from channels.base import (
    ChannelAdapter,
    MessageContext,
    OutboundMessage,
    SendOutcome,
    SendResult,
)
from models import Contact, SendAttempt, Suppression, Wave, WaveRequest
from reconsent.clock import FixedClock
from reconsent.db import insert_ignoring_conflicts, is_postgres, unit_of_work
from reconsent.gate import load_gates
from reconsent.links import LinkSigner, LinkUse
from reconsent.messages import message_context
from reconsent.rules.escalation import AttemptView, Decision, Outcome, RequestView, StepSpec, decide
from reconsent.settings import Settings
from reconsent.vocab import AttemptStatus, Channel, RequestStatus, SuppressionReason
from reconsent.waves import get_wave, wave_config

log = logging.getLogger(__name__)

_CLOSING = {
    Outcome.EXPIRE: RequestStatus.EXPIRED,
    Outcome.FAIL: RequestStatus.FAILED,
    Outcome.CANCEL: RequestStatus.CANCELLED,
}


@dataclass
class BatchReport:
    """Aggregate counts only: safe for logs and Prefect artifacts."""

    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    retrying: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    waiting: Counter[str] = field(default_factory=Counter)

    def merge(self, other: BatchReport) -> None:
        for name in ("sent", "skipped", "retrying", "failed", "closed", "waiting"):
            getattr(self, name).update(getattr(other, name))

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            name: dict(getattr(self, name))
            for name in ("sent", "skipped", "retrying", "failed", "closed", "waiting")
        }


@dataclass
class _Claimed:
    token: str
    messages: dict[Channel, list[OutboundMessage]]
    waits: dict[int, timedelta]  # attempt id -> the step's wait


def steps_of(wave: Wave) -> list[StepSpec]:
    config = wave_config(wave)
    return [
        StepSpec(s.channel, s.wait_delta, config.quiet_hours.preset(s.channel))
        for s in config.steps
    ]


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        adapters: Mapping[Channel, ChannelAdapter],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.adapters = adapters
        self.keys = settings.link_signing_keys()
        self.lease = timedelta(seconds=settings.claim_lease_seconds)
        self.idempotent = frozenset(c for c, a in adapters.items() if a.idempotent)

    def due_ranges(self, wave_id: int, now: datetime, size: int) -> list[tuple[int, int]]:
        """Id ranges of at most ``size`` due requests: what one batch task handles."""
        with unit_of_work(self.engine) as session:
            ids = session.scalars(
                select(WaveRequest.id).where(_due(wave_id, now)).order_by(WaveRequest.id)
            ).all()
        return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]

    def advance(self, wave_id: int, lo: int, hi: int, now: datetime) -> BatchReport:
        report = BatchReport()
        for _round in range(3):
            claimed = self._decide_and_claim(wave_id, lo, hi, now, report)
            if not claimed.messages:
                break
            results = self._send(claimed)
            self._record(claimed, results, now, report)
            if all(r.outcome is SendOutcome.SENT for r in results):
                break
        return report

    # -- 1. decide and claim ------------------------------------------------
    def _decide_and_claim(
        self, wave_id: int, lo: int, hi: int, now: datetime, report: BatchReport
    ) -> _Claimed:
        claimed = _Claimed(uuid.uuid4().hex, {}, {})
        with unit_of_work(self.engine) as session:
            wave = get_wave(session, wave_id)
            steps = steps_of(wave)
            query = (
                select(WaveRequest, Contact)
                .join(Contact, Contact.id == WaveRequest.contact_id)
                .where(_due(wave_id, now), WaveRequest.id.between(lo, hi))
                .order_by(WaveRequest.id)
            )
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True, of=WaveRequest)
            rows = session.execute(query).all()
            if not rows:
                return claimed
            attempts = _attempts(session, [r.id for r, _ in rows])
            declared = frozenset(wave_config(wave).lawful_basis)
            gates = load_gates(session, [c for _, c in rows], declared)
            sends: list[tuple[WaveRequest, Contact, Decision]] = []
            for request, contact in rows:
                mine = attempts.get(request.id, {})
                current = mine.get(request.step_index)
                view = RequestView(
                    request.step_index,
                    request.step_sent_at,
                    request.basis,
                    any(
                        a.status in (AttemptStatus.SENT, AttemptStatus.UNKNOWN)
                        for a in mine.values()
                    ),
                )
                attempt_view = (
                    AttemptView(
                        current.status, current.tries, current.claimed_at, current.next_retry_at
                    )
                    if current is not None
                    else None
                )
                decision = decide(
                    view,
                    attempt_view,
                    gates[contact.id],
                    steps,
                    now,
                    claim_lease=self.lease,
                    idempotent=self.idempotent,
                )
                self._apply(session, request, current, decision, steps, now, report)
                if decision.outcome is Outcome.SEND:
                    sends.append((request, contact, decision))
            self._claim(
                session,
                wave,
                sends,
                mine_by_request=attempts,
                steps=steps,
                now=now,
                claimed=claimed,
            )
        return claimed

    def _apply(
        self,
        session: Session,
        request: WaveRequest,
        current: SendAttempt | None,
        decision: Decision,
        steps: list[StepSpec],
        now: datetime,
        report: BatchReport,
    ) -> None:
        if decision.presumed_sent_at is not None and current is not None:
            current.status = AttemptStatus.UNKNOWN
            current.error_detail = "claim outcome lost; presumed sent (at most once)"
            request.step_sent_at = decision.presumed_sent_at
        for index, channel, why in decision.skipped:
            session.execute(
                insert_ignoring_conflicts(session, SendAttempt.__table__).values(
                    request_id=request.id,
                    step_index=index,
                    channel=channel.value,
                    status=AttemptStatus.SKIPPED.value,
                    tries=0,
                    claimed_at=now,
                    error_code=why,
                )
            )
            report.skipped[f"{channel.value}:{why}"] += 1
        if decision.step_index != request.step_index:
            request.step_index = decision.step_index
            request.step_sent_at = None
        if decision.outcome in _CLOSING:
            request.status = _CLOSING[decision.outcome]
            request.closed_at = now
            request.close_reason = decision.reason
            report.closed[f"{request.status.value}:{decision.reason}"] += 1
        elif decision.outcome is Outcome.WAIT:
            assert decision.until is not None
            request.next_action_at = decision.until
            report.waiting[decision.reason or "wait"] += 1

    def _claim(
        self,
        session: Session,
        wave: Wave,
        sends: list[tuple[WaveRequest, Contact, Decision]],
        *,
        mine_by_request: dict[int, dict[int, SendAttempt]],
        steps: list[StepSpec],
        now: datetime,
        claimed: _Claimed,
    ) -> None:
        if not sends:
            return
        table = SendAttempt.__table__
        for request, _contact, decision in sends:
            step = steps[decision.step_index]
            existing = mine_by_request.get(request.id, {}).get(decision.step_index)
            if existing is None:
                session.execute(
                    insert_ignoring_conflicts(session, table).values(
                        request_id=request.id,
                        step_index=decision.step_index,
                        channel=step.channel.value,
                        status=AttemptStatus.CLAIMED.value,
                        tries=0,
                        claimed_at=now,
                        claim_token=claimed.token,
                    )
                )
            else:  # compare-and-set: only the worker that sees the same row state wins
                session.execute(
                    update(SendAttempt)
                    .where(
                        SendAttempt.id == existing.id,
                        SendAttempt.status == existing.status,
                        SendAttempt.claimed_at == existing.claimed_at,
                    )
                    .values(status=AttemptStatus.CLAIMED, claimed_at=now, claim_token=claimed.token)
                    .execution_options(synchronize_session=False)
                )
        owned = {
            a.request_id: a
            for a in session.scalars(
                select(SendAttempt)
                .where(SendAttempt.claim_token == claimed.token)
                .execution_options(populate_existing=True)
            )
        }
        contexts: dict[str, MessageContext] = {}
        links = Links(self.settings.portal_base_url, LinkSigner(self.keys, clock=FixedClock(now)))
        for request, contact, decision in sends:
            attempt = owned.get(request.id)
            if attempt is None or attempt.step_index != decision.step_index:
                continue  # another worker claimed it first
            request.next_action_at = now + self.lease
            step = steps[decision.step_index]
            if contact.locale not in contexts:
                contexts[contact.locale] = message_context(
                    session, wave, contact.locale, self.settings
                )
            message = links.message(attempt, contact, step.channel, contexts[contact.locale])
            claimed.messages.setdefault(step.channel, []).append(message)
            claimed.waits[attempt.id] = step.wait

    # -- 2. send ------------------------------------------------------------
    def _send(self, claimed: _Claimed) -> list[SendResult]:
        results: list[SendResult] = []
        for channel, messages in claimed.messages.items():
            adapter = self.adapters[channel]
            for start in range(0, len(messages), adapter.max_batch):
                chunk = messages[start : start + adapter.max_batch]
                try:
                    results.extend(adapter.send(chunk))
                except Exception as exc:
                    # Nothing in this chunk is known to have gone out: retry it later,
                    # then let the error surface (a configuration problem must be seen).
                    log.error(
                        "adapter %s failed for %d messages: %s",
                        adapter.provider,
                        len(chunk),
                        type(exc).__name__,
                    )
                    results.extend(
                        SendResult(
                            m.attempt_id,
                            SendOutcome.TRANSIENT,
                            adapter.provider,
                            error_code="adapter_error",
                            error_detail=type(exc).__name__,
                        )
                        for m in chunk
                    )
        return results

    # -- 3. record ------------------------------------------------------------
    def _record(
        self, claimed: _Claimed, results: list[SendResult], now: datetime, report: BatchReport
    ) -> None:
        with unit_of_work(self.engine) as session:
            by_id = {
                a.id: a
                for a in session.scalars(
                    select(SendAttempt).where(SendAttempt.claim_token == claimed.token)
                )
            }
            requests = {
                r.id: r
                for r in session.scalars(
                    select(WaveRequest).where(
                        WaveRequest.id.in_([a.request_id for a in by_id.values()])
                    )
                )
            }
            for result in results:
                attempt = by_id.get(result.attempt_id)
                if attempt is None or attempt.status is not AttemptStatus.CLAIMED:
                    continue
                request = requests[attempt.request_id]
                attempt.provider = result.provider
                attempt.tries += 1
                channel = attempt.channel.value
                if result.outcome is SendOutcome.SENT:
                    attempt.status = AttemptStatus.SENT
                    attempt.sent_at = now
                    attempt.provider_message_id = result.provider_message_id
                    request.step_sent_at = now
                    request.next_action_at = now + claimed.waits[attempt.id]
                    report.sent[channel] += 1
                    continue
                attempt.error_code = result.error_code
                attempt.error_detail = result.error_detail
                if (
                    result.outcome is SendOutcome.TRANSIENT
                    and attempt.tries < self.settings.send_max_tries
                ):
                    attempt.status = AttemptStatus.RETRY
                    attempt.next_retry_at = now + backoff(attempt.tries, result.retry_after)
                    request.next_action_at = attempt.next_retry_at
                    report.retrying[f"{channel}:{result.error_code}"] += 1
                    continue
                attempt.status = AttemptStatus.FAILED
                request.next_action_at = now  # escalate to the next step at once
                report.failed[f"{channel}:{result.error_code}"] += 1
                if result.outcome is SendOutcome.PERMANENT:
                    _suppress_address(session, request, attempt, result, now)


@dataclass(frozen=True)
class Links:
    """The signed URLs of one message: issued at tick time, opaque ids only."""

    base_url: str
    signer: LinkSigner

    def message(
        self, attempt: SendAttempt, contact: Contact, channel: Channel, context: MessageContext
    ) -> OutboundMessage:
        base = self.base_url.rstrip("/")
        rid, step = attempt.request_id, attempt.step_index
        voice = f"{base}/webhooks/twilio/voice?t={self.signer.sign(LinkUse.IVR, rid, step)}"
        callbacks = {
            Channel.SMS: f"{base}/webhooks/twilio/sms-status",
            Channel.IVR: f"{base}/webhooks/twilio/call-status",
        }
        return OutboundMessage(
            attempt_id=attempt.id,
            request_id=rid,
            channel=channel,
            to=(contact.email if channel is Channel.EMAIL else contact.phone) or "",
            context=context,
            link=f"{base}/c/{self.signer.sign(LinkUse.LANDING, rid, step)}",
            optout_link=f"{base}/o/{self.signer.sign(LinkUse.OPTOUT, rid, step)}",
            to_name=contact.given_name,
            voice_url=voice if channel is Channel.IVR else None,
            status_callback_url=callbacks.get(channel),
        )


def backoff(tries: int, retry_after: float | None) -> timedelta:
    """30 s, 60 s, 120 s ... capped at one hour, and never sooner than Retry-After."""
    seconds = min(3600.0, 30.0 * 2 ** max(0, tries - 1))
    return timedelta(seconds=max(seconds, retry_after or 0.0))


def _suppress_address(
    session: Session, request: WaveRequest, attempt: SendAttempt, result: SendResult, now: datetime
) -> None:
    """A permanent per-recipient error: stop using that address on that channel."""
    contact = session.get(Contact, request.contact_id)
    if contact is None:
        return
    digest = contact.email_hash if attempt.channel is Channel.EMAIL else contact.phone_hash
    session.add(
        Suppression(
            contact_id=contact.id,
            address_hash=digest,
            channel=attempt.channel,
            reason=SuppressionReason.BOUNCE
            if attempt.channel is Channel.EMAIL
            else SuppressionReason.INVALID_ADDRESS,
            source=f"{result.provider}:{result.error_code}",
            created_at=now,
        )
    )


def _due(wave_id: int, now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        WaveRequest.wave_id == wave_id,
        WaveRequest.status == RequestStatus.ACTIVE,
        WaveRequest.next_action_at <= now,
    )


def _attempts(session: Session, request_ids: list[int]) -> dict[int, dict[int, SendAttempt]]:
    found: dict[int, dict[int, SendAttempt]] = {}
    for start in range(0, len(request_ids), 500):
        chunk = request_ids[start : start + 500]
        for attempt in session.scalars(
            select(SendAttempt).where(SendAttempt.request_id.in_(chunk))
        ):
            found.setdefault(attempt.request_id, {})[attempt.step_index] = attempt
    return found
