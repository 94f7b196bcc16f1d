"""The escalation state machine of one request, as a pure function.

Given what the database says about a request (its current step, when that
step went out, the attempt at that step) and what the gate says about the
person right now, ``decide`` answers what to do next: send the current step,
wait, skip steps that cannot reach the person, escalate after a wait with no
answer, or end the request (expired, failed, cancelled).

Silence is never consent: a request whose last step was waited out ends
EXPIRED, which records nothing in the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, LocalDays
from reconsent.kernel.rules.quiet_hours import next_allowed
from reconsent.kernel.vocab import AttemptStatus, Channel, RequestBasis


@dataclass(frozen=True)
class StepSpec:
    channel: Channel
    wait: timedelta
    quiet_preset: str


@dataclass(frozen=True)
class RequestView:
    step_index: int
    step_sent_at: datetime | None
    basis: RequestBasis
    any_sent: bool  # did any earlier step of this request go out?


@dataclass(frozen=True)
class AttemptView:
    """The attempt at the request's current step, if one exists."""

    status: AttemptStatus
    tries: int
    claimed_at: datetime
    next_retry_at: datetime | None


@dataclass(frozen=True)
class Gate:
    """The person's situation at decision time (re-read from the database and judged
    by :func:`reconsent.kernel.rules.eligibility.evaluate`)."""

    blocked: str | None  # person-wide: erased, restricted, objected, suppressed, refused...
    timezone: str
    #: Per channel, why it cannot reach the person (None: it can); a channel missing
    #: here was not judged (no step of the wave uses it) and is blocked.
    blocks: Mapping[Channel, str | None] = field(default_factory=dict)
    #: The person's local holidays (their municipality's patron-saint day), for the
    #: calling hours (:func:`reconsent.kernel.rules.quiet_hours.next_allowed`).
    local_days: LocalDays = NO_LOCAL_DAYS


class Outcome(StrEnum):
    SEND = "send"  # claim and send step ``step_index`` now
    WAIT = "wait"  # nothing to do before ``until``
    EXPIRE = "expire"  # every step waited out with no answer
    FAIL = "fail"  # no step could reach the person
    CANCEL = "cancel"  # the person may no longer be contacted


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    step_index: int
    until: datetime | None = None
    reason: str | None = None
    #: Steps passed over on the way, with why: recorded as SKIPPED attempts.
    skipped: tuple[tuple[int, Channel, str], ...] = ()
    #: A claim whose outcome was lost (crash) on a non-idempotent channel: presumed sent
    #: at the claim time (UNKNOWN), re-sent only after ``resend_unseen`` with no report.
    presumed_sent_at: datetime | None = None
    escalated: bool = False
    #: SEND of an UNKNOWN attempt the provider never reported within the bounded wait.
    resend: bool = False


def channel_block(channel: Channel, gate: Gate) -> str | None:
    """Why this step cannot be used for this person (None: it can)."""
    return gate.blocks.get(channel, "no_channel_consent")


def decide(
    request: RequestView,
    attempt: AttemptView | None,
    gate: Gate,
    steps: Sequence[StepSpec],
    now: datetime,
    *,
    claim_lease: timedelta,
    idempotent: frozenset[Channel] = frozenset(),
    resend_unseen: Mapping[Channel, timedelta] | None = None,
) -> Decision:
    """What to do with one request now.

    ``resend_unseen``: per channel whose provider reports every message it accepts
    (SendGrid's ``processed`` event, Twilio's status callbacks, both carrying our
    attempt id), how long a lost outcome (UNKNOWN) waits for that report; with none by
    then the provider never saw the message and the step is sent again. A channel not
    listed never re-sends a lost outcome (at most once).
    """
    if gate.blocked:
        return Decision(Outcome.CANCEL, request.step_index, reason=gate.blocked)
    index = request.step_index
    sent_at = request.step_sent_at
    any_sent = request.any_sent
    current = attempt
    presumed: datetime | None = None
    resend = False
    skipped: list[tuple[int, Channel, str]] = []

    def at_index(
        outcome: Outcome, reason: str | None = None, until: datetime | None = None
    ) -> Decision:
        # What happened on the way always travels with the decision: the steps skipped,
        # and a lost claim presumed sent (even when its wait is over and the request moves on).
        return Decision(
            outcome,
            index,
            until=until,
            reason=reason,
            skipped=tuple(skipped),
            presumed_sent_at=presumed,
            escalated=index != request.step_index,
            resend=resend and outcome is Outcome.SEND,
        )

    while True:
        if index >= len(steps):
            if any_sent:
                return at_index(Outcome.EXPIRE, "no_answer")
            return at_index(Outcome.FAIL, "unreachable")
        step = steps[index]
        resend_at: datetime | None = None
        if current is not None and current.status is AttemptStatus.UNKNOWN:
            wait = (resend_unseen or {}).get(step.channel)
            resend_at = None if wait is None else current.claimed_at + wait
            if resend_at is not None and now >= resend_at:
                # No report within the bounded wait: the provider never had it.
                sent_at, resend = None, True
            else:
                sent_at = sent_at or current.claimed_at
        if sent_at is None and current is not None and not resend:
            if current.status is AttemptStatus.SENT:
                sent_at = current.claimed_at
            elif current.status in (AttemptStatus.FAILED, AttemptStatus.SKIPPED):
                index, sent_at, current = index + 1, None, None
                continue
            elif current.status in (AttemptStatus.CLAIMED, AttemptStatus.SENDING):
                lease_end = current.claimed_at + claim_lease
                if now < lease_end:
                    return at_index(Outcome.WAIT, "claimed", lease_end)
                # A claim never handed to the provider is simply sent now. One that was
                # handed over but whose outcome was lost (a crash mid-call) is presumed
                # sent (UNKNOWN) unless re-sending is harmless (the file outbox); a
                # provider that reports back confirms it, or it is re-sent (above).
                if current.status is AttemptStatus.SENDING and step.channel not in idempotent:
                    presumed = sent_at = current.claimed_at
                    any_sent = True
                    wait = (resend_unseen or {}).get(step.channel)
                    resend_at = None if wait is None else current.claimed_at + wait
            elif current.status is AttemptStatus.RETRY:
                retry_at = current.next_retry_at or now
                if now < retry_at:
                    return at_index(Outcome.WAIT, "retry", retry_at)
        if sent_at is not None:
            answer_due = sent_at + step.wait
            if resend_at is not None and (now < resend_at or presumed is not None):
                # Unconfirmed: wait for the provider's report (or re-send) before moving on.
                return at_index(Outcome.WAIT, "unconfirmed", max(resend_at, now))
            if now < answer_due:
                return at_index(Outcome.WAIT, "awaiting_answer", answer_due)
            index, sent_at, current = index + 1, None, None
            continue
        blocked = channel_block(step.channel, gate)
        if blocked:
            skipped.append((index, step.channel, blocked))
            index, current, resend = index + 1, None, False
            continue
        opens = next_allowed(now, gate.timezone, step.quiet_preset, gate.local_days)
        if opens > now:
            return at_index(Outcome.WAIT, "quiet_hours", opens)
        return at_index(Outcome.SEND)
