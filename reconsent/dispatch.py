"""Advancing a wave's requests: decide, claim, send, record.

One call handles one id range of one wave in up to three rounds (so a
permanent failure escalates to the next channel at once):

1. in one transaction: lock the due requests (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), re-read the gate, ``decide`` each request, record skips,
   expiries and cancellations, and **claim** the sends: an attempt row per
   (request, step) with this batch's claim token, committed before any
   provider is called;
2. per adapter chunk: mark the chunk SENDING (committed), call the provider
   once, and record each result in one transaction (sent, retry with backoff,
   failed and escalated).

A crash leaves claims behind. After the lease, ``decide`` sends a CLAIMED
attempt (never handed over) and presumes a SENDING one sent (at most once),
unless the adapter is idempotent (the file outbox), which re-sends it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
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
from models import Contact, SendAttempt, Wave, WaveRequest
from reconsent.batch_report import BatchReport
from reconsent.caps import apply_daily_caps
from reconsent.clock import FixedClock
from reconsent.db import insert_ignoring_conflicts, is_postgres, unit_of_work
from reconsent.errors import ConfigError
from reconsent.gate import load_gates
from reconsent.links import LinkSigner
from reconsent.messages import message_context
from reconsent.outbound import Links
from reconsent.rules.escalation import AttemptView, Decision, Outcome, RequestView, StepSpec, decide
from reconsent.rules.ratelimit import TokenBucket
from reconsent.send_results import record_results
from reconsent.settings import Settings
from reconsent.vocab import AttemptStatus, Channel, RequestStatus
from reconsent.waves import get_wave, step_specs, wave_config

log = logging.getLogger(__name__)

_CLOSING = {
    Outcome.EXPIRE: RequestStatus.EXPIRED,
    Outcome.FAIL: RequestStatus.FAILED,
    Outcome.CANCEL: RequestStatus.CANCELLED,
}


@dataclass
class _Claimed:
    token: str
    messages: dict[Channel, list[OutboundMessage]]
    waits: dict[int, timedelta]  # attempt id -> the step's wait


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        adapters: Mapping[Channel, ChannelAdapter],
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.adapters = adapters
        self.keys = settings.link_signing_keys()
        self.sleep, self.monotonic = sleep, monotonic
        #: Per-channel pacing (provider throughput, e.g. a long code's 1 SMS/s), per process.
        self.buckets = {
            Channel(name): TokenBucket(rate, max(1.0, rate))
            for name, rate in settings.send_rate_per_second.items()
        }
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
        config_error: ConfigError | None = None
        for _round in range(3):
            claimed = self._decide_and_claim(wave_id, lo, hi, now, report)
            if not claimed.messages:
                break
            all_sent = True
            for channel, messages in claimed.messages.items():
                adapter = self.adapters[channel]
                for chunk in self._paced(channel, adapter.max_batch, messages):
                    results, error = self._send_chunk(claimed.token, adapter, chunk)
                    sent_to = {m.attempt_id: (m.request_id, channel) for m in chunk}
                    record_results(
                        self.engine,
                        self.settings,
                        claimed.token,
                        sent_to,
                        claimed.waits,
                        results,
                        now,
                        report,
                    )
                    all_sent = all_sent and all(r.outcome is SendOutcome.SENT for r in results)
                    if isinstance(error, ConfigError):
                        config_error = config_error or error
            if all_sent or config_error is not None:
                break
        if config_error is not None:
            raise config_error  # recorded as retries above; the run must fail visibly
        return report

    def _paced(
        self, channel: Channel, max_batch: int, messages: list[OutboundMessage]
    ) -> Iterator[list[OutboundMessage]]:
        """Chunks of at most ``max_batch``, released no faster than the channel's rate."""
        bucket = self.buckets.get(channel)
        size = max_batch if bucket is None else max(1, min(max_batch, int(bucket.rate)))
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            wait = 0.0 if bucket is None else bucket.reserve(len(chunk), self.monotonic())
            if wait > 0:
                self.sleep(wait)
            yield chunk

    # -- 1. decide and claim ------------------------------------------------
    def _decide_and_claim(
        self, wave_id: int, lo: int, hi: int, now: datetime, report: BatchReport
    ) -> _Claimed:
        claimed = _Claimed(uuid.uuid4().hex, {}, {})
        with unit_of_work(self.engine) as session:
            wave = get_wave(session, wave_id)
            steps = step_specs(wave)
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
            sends = apply_daily_caps(
                session, wave.id, wave_config(wave).daily_cap, sends, steps, now, report
            )
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
        fresh: list[dict[str, object]] = []
        for request, _contact, decision in sends:
            step = steps[decision.step_index]
            existing = mine_by_request.get(request.id, {}).get(decision.step_index)
            if existing is None:
                fresh.append(
                    {
                        "request_id": request.id,
                        "step_index": decision.step_index,
                        "channel": step.channel.value,
                        "status": AttemptStatus.CLAIMED.value,
                        "tries": 0,
                        "claimed_at": now,
                        "claim_token": claimed.token,
                    }
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
        if fresh:  # one executemany; the unique (request, step) makes a lost race a no-op
            session.execute(insert_ignoring_conflicts(session, SendAttempt.__table__), fresh)
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
    def _send_chunk(
        self, token: str, adapter: ChannelAdapter, chunk: list[OutboundMessage]
    ) -> tuple[list[SendResult], Exception | None]:
        """Mark the chunk as handed over (committed), then call the provider once."""
        with unit_of_work(self.engine) as session:
            session.execute(
                update(SendAttempt)
                .where(
                    SendAttempt.id.in_([m.attempt_id for m in chunk]),
                    SendAttempt.claim_token == token,
                    SendAttempt.status == AttemptStatus.CLAIMED,
                )
                .values(status=AttemptStatus.SENDING)
                .execution_options(synchronize_session=False)
            )
        try:
            return adapter.send(chunk), None
        except Exception as exc:
            # The adapter gave no per-message answer: retry the chunk later. Adapters turn
            # provider faults into results, so this is a configuration error or a bug.
            log.error(
                "adapter %s failed for %d messages: %s",
                adapter.provider,
                len(chunk),
                type(exc).__name__,
            )
            failed = [
                SendResult(
                    m.attempt_id,
                    SendOutcome.TRANSIENT,
                    adapter.provider,
                    error_code="adapter_error",
                    error_detail=type(exc).__name__,
                )
                for m in chunk
            ]
            return failed, exc


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
