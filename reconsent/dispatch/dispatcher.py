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
attempt (never handed over) and marks a SENDING one UNKNOWN (presumed sent,
never counted as sent), unless the adapter is idempotent (the file outbox),
which re-sends it. A provider that reports back (``reports_back``) confirms an
UNKNOWN attempt (its report names our attempt id); with no report within
``unconfirmed_resend_seconds`` it never had the message, and the step is sent
again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reconsent.campaigns.notices import message_context
from reconsent.campaigns.waves import get_wave, step_specs, wave_config, wave_purposes
from reconsent.db import insert_ignoring_conflicts, is_postgres, unit_of_work
from reconsent.dispatch.batch_report import BatchReport
from reconsent.dispatch.claims import (
    ATTEMPTS,
    REQUESTS,
    AttemptRow,
    DueRow,
    Owned,
    RowChanges,
    attempts_of,
    due,
    due_rows,
    insert_claims,
)
from reconsent.dispatch.daily_caps import apply_daily_caps
from reconsent.dispatch.handover import HandoverPlan, hand_over, watermark
from reconsent.dispatch.message_links import Links
from reconsent.dispatch.pacing import Pacer
from reconsent.dispatch.send_results import record_results
from reconsent.dispatch.shared_pacing import SharedBuckets
from reconsent.eligibility.rpo_register import rpo_consulted
from reconsent.eligibility.send_gate import load_gates, send_rules
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.ports import (
    ChannelAdapter,
    OutboundMessage,
    SendOutcome,
    SendResult,
)
from reconsent.kernel.rules.escalation import (
    AttemptView,
    Decision,
    Outcome,
    RequestView,
    StepSpec,
    decide,
)
from reconsent.kernel.rules.wave_lifecycle import SENDS_NOTHING
from reconsent.kernel.vocab import AttemptStatus, Channel, RequestBasis, RequestStatus
from reconsent.settings import Settings

log = logging.getLogger(__name__)

_WENT_OUT = (AttemptStatus.SENT, AttemptStatus.UNKNOWN)
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
    plan: HandoverPlan = field(default_factory=HandoverPlan)
    #: Sends left unclaimed (a paced channel's next chunks): the next round claims them.
    more: bool = False


@dataclass
class _Writes:
    """What one decide-and-claim transaction writes, in bulk at its end."""

    requests: RowChanges
    attempts: RowChanges
    skipped: list[dict[str, object]]  # SKIPPED attempt rows to insert


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        adapters: Mapping[Channel, ChannelAdapter],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.adapters = adapters
        self.keys = settings.link_signing_keys()
        #: Pacing shared through the database by every dispatcher on it (every worker).
        rates, shared = settings.send_rate_per_second, SharedBuckets(engine)
        self.pacer = Pacer(rates, adapters, sleep=sleep, monotonic=clock, shared=shared)
        self.lease = timedelta(seconds=settings.claim_lease_seconds)
        #: Local holidays per municipality, built once (the calling hours of each person).
        self.calendar = settings.patron_calendar()
        self.idempotent = frozenset(c for c, a in adapters.items() if a.idempotent)
        resend = timedelta(seconds=settings.unconfirmed_resend_seconds)
        self.resend_unseen = {
            c: resend for c, a in adapters.items() if a.reports_back and resend > timedelta(0)
        }

    def due_ranges(self, wave_id: int, now: datetime, size: int) -> list[tuple[int, int]]:
        """Id ranges of at most ``size`` due requests (what one batch task handles), by keyset:
        a tick holds one pair of ids per batch, never the list of every due id."""
        ranges: list[tuple[int, int]] = []
        after = 0
        with unit_of_work(self.engine) as session:
            while True:
                ids = (
                    select(REQUESTS.c.id)
                    .where(due(wave_id, now), REQUESTS.c.id > after)
                    .order_by(REQUESTS.c.id)
                )
                lo = session.scalar(ids.limit(1))
                if lo is None:
                    return ranges
                hi = session.scalar(ids.offset(size - 1).limit(1)) or session.scalar(
                    select(func.max(REQUESTS.c.id)).where(due(wave_id, now), REQUESTS.c.id > after)
                )
                assert hi is not None  # lo itself is due
                ranges.append((lo, hi))
                after = hi

    def advance(self, wave_id: int, lo: int, hi: int, now: datetime) -> BatchReport:
        report = BatchReport()
        config_error: ConfigError | None = None
        escalations = 0  # rounds that re-decide after a failure: up to two more steps
        while True:
            claimed = self._decide_and_claim(wave_id, lo, hi, now, report)
            if not claimed.messages:
                break
            all_sent = True
            for channel, messages in claimed.messages.items():
                adapter = self.adapters[channel]
                for chunk in self.pacer.chunks(channel, messages):
                    with hand_over(self.engine, claimed.token, chunk, claimed.plan, now) as out:
                        results, error = self._call(adapter, out.passing)
                    for _attempt, why in out.blocked:
                        report.skipped[f"handover:{why}"] += 1
                    sent_to = {m.attempt_id: (m.request_id, channel) for m in out.passing}
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
            if config_error is not None:
                break
            if claimed.more:
                continue  # a paced channel's next chunk: claimed only when it may leave
            if all_sent or escalations == 2:
                break
            escalations += 1
        if config_error is not None:
            raise config_error  # recorded as retries above; the run must fail visibly
        return report

    # -- 1. decide and claim ------------------------------------------------
    def _decide_and_claim(
        self, wave_id: int, lo: int, hi: int, now: datetime, report: BatchReport
    ) -> _Claimed:
        claimed = _Claimed(uuid.uuid4().hex, {}, {})
        with unit_of_work(self.engine) as session:
            conn = session.connection()
            wave = get_wave(session, wave_id)
            if wave.status in SENDS_NOTHING:  # paused, cancelled... since the batch began
                return claimed
            steps = step_specs(wave)
            rows = due_rows(conn, wave_id, lo, hi, now, lock=is_postgres(session))
            if not rows:
                return claimed
            attempts = attempts_of(conn, [r.request_id for r in rows])
            config = wave_config(wave)
            fresh_register = rpo_consulted(session, now, self.settings.rpo_validity_days)
            purposes = wave_purposes(session, config)
            rules = send_rules(config, rpo_consulted=fresh_register)
            # Before the gate reads anything: whatever changes after, the hand-over sees.
            claimed.plan = HandoverPlan(purposes, rules, {}, watermark(session))
            gates = load_gates(session, rows, purposes, rules, self.calendar)
            writes = _Writes(RowChanges(REQUESTS), RowChanges(ATTEMPTS), [])
            sends: list[tuple[DueRow, None, Decision]] = []
            for row in rows:
                mine = attempts.get(row.request_id)
                current = None if mine is None else mine.get(row.step_index)
                view = RequestView(
                    row.step_index,
                    row.step_sent_at,
                    row.basis,
                    mine is not None and any(a.status in _WENT_OUT for a in mine.values()),
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
                    gates[row.id],
                    steps,
                    now,
                    claim_lease=self.lease,
                    idempotent=self.idempotent,
                    resend_unseen=self.resend_unseen,
                )
                _apply(writes, row, current, decision, now, report)
                if decision.outcome is Outcome.SEND:
                    sends.append((row, None, decision))

            def postpone(item: tuple[DueRow, None, Decision], tomorrow: datetime) -> None:
                writes.requests.set(item[0].request_id, next_action_at=tomorrow)

            cap = config.daily_cap
            sends = apply_daily_caps(session, wave.id, cap, sends, steps, now, report, postpone)
            # A paced channel is claimed one chunk at a time: the rest stays due.
            sends, claimed.more = self.pacer.first_chunks(
                sends, lambda item: steps[item[2].step_index].channel
            )
            by_locale = {
                locale: message_context(session, wave, locale, self.settings)
                for locale in {row.locale for row, _, _ in sends}
            }
            # One context per locale and basis: the basis chooses the wording.
            contexts = {
                (locale, basis): replace(context, basis=basis)
                for locale, context in by_locale.items()
                for basis in RequestBasis
            }
            # Writes last, so the transaction (SQLite's write lock, PostgreSQL's row locks)
            # stays short; the messages are signed and built after the commit.
            if writes.skipped:
                session.execute(insert_ignoring_conflicts(session, ATTEMPTS), writes.skipped)
            writes.attempts.flush(conn)
            won = self._claim(session, sends, attempts, steps, now, claimed.token, writes.requests)
            writes.requests.flush(conn)
        links = Links.issued_at(self.settings.portal_base_url, self.keys, now)
        for attempt, row, step in won:
            message = links.build(
                attempt.id,
                row.request_id,
                attempt.step_index,
                row,
                step.channel,
                contexts[row.locale, row.basis],
            )
            claimed.messages.setdefault(step.channel, []).append(message)
            claimed.waits[attempt.id] = step.wait
            claimed.plan.contact_of[attempt.id] = row.id
        return claimed

    def _claim(
        self,
        session: Session,
        sends: list[tuple[DueRow, None, Decision]],
        mine_by_request: dict[int, dict[int, AttemptRow]],
        steps: list[StepSpec],
        now: datetime,
        token: str,
        requests: RowChanges,
    ) -> list[tuple[Owned, DueRow, StepSpec]]:
        """Claim the sends for ``token``: the (attempt, request, step) it won."""
        if not sends:
            return []
        owned = insert_claims(
            session,
            [
                (
                    row.request_id,
                    decision.step_index,
                    steps[decision.step_index].channel,
                    mine_by_request.get(row.request_id, {}).get(decision.step_index),
                )
                for row, _, decision in sends
            ],
            now,
            token,
        )
        won: list[tuple[Owned, DueRow, StepSpec]] = []
        for row, _, decision in sends:
            attempt = owned.get(row.request_id)
            if attempt is None or attempt.step_index != decision.step_index:
                continue  # another worker claimed it first
            # step_sent_at: a re-send of an unconfirmed step clears its presumed time.
            requests.set(row.request_id, next_action_at=now + self.lease, step_sent_at=None)
            won.append((attempt, row, steps[decision.step_index]))
        return won

    # -- 2. send ------------------------------------------------------------
    def _call(
        self, adapter: ChannelAdapter, chunk: list[OutboundMessage]
    ) -> tuple[list[SendResult], Exception | None]:
        """Call the provider once for the chunk (inside its hand-over, see ``handover``)."""
        if not chunk:
            return [], None
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


def _apply(
    writes: _Writes,
    row: DueRow,
    current: AttemptRow | None,
    decision: Decision,
    now: datetime,
    report: BatchReport,
) -> None:
    """Record what ``decide`` said about one request (written in bulk later)."""
    rid = row.request_id
    if decision.presumed_sent_at is not None and current is not None:
        writes.attempts.set(
            current.id,
            status=AttemptStatus.UNKNOWN,
            error_detail="claim outcome lost; presumed sent (at most once)",
        )
        writes.requests.set(rid, step_sent_at=decision.presumed_sent_at)
    for index, channel, why in decision.skipped:
        writes.skipped.append(
            {
                "request_id": rid,
                "step_index": index,
                "channel": channel.value,
                "status": AttemptStatus.SKIPPED.value,
                "tries": 0,
                "claimed_at": now,
                "error_code": why,
            }
        )
        report.skipped[f"{channel.value}:{why}"] += 1
    if decision.step_index != row.step_index:
        writes.requests.set(rid, step_index=decision.step_index, step_sent_at=None)
    if decision.outcome in _CLOSING:
        status = _CLOSING[decision.outcome]
        writes.requests.set(rid, status=status, closed_at=now, close_reason=decision.reason)
        report.closed[f"{status.value}:{decision.reason}"] += 1
    elif decision.outcome is Outcome.WAIT:
        assert decision.until is not None
        writes.requests.set(rid, next_action_at=decision.until)
        report.waiting[decision.reason or "wait"] += 1
