from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconsent.kernel.rules.escalation import (
    AttemptView,
    Gate,
    Outcome,
    RequestView,
    StepSpec,
    decide,
)
from reconsent.kernel.vocab import AttemptStatus, Channel, RequestBasis

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Tuesday, 11:00 in Rome
LEASE = timedelta(minutes=10)
STEPS = [
    StepSpec(Channel.EMAIL, timedelta(days=3), "always"),
    StepSpec(Channel.SMS, timedelta(days=2), "daytime"),
    StepSpec(Channel.IVR, timedelta(days=1), "it-telemarketing"),
]
OPEN = {Channel.EMAIL: None, Channel.SMS: None, Channel.IVR: None}
GATE = Gate(blocked=None, timezone="Europe/Rome", blocks=OPEN)


def view(
    step: int = 0,
    sent: datetime | None = None,
    any_sent: bool = False,
    basis: RequestBasis = RequestBasis.PRIOR_CONSENT,
) -> RequestView:
    return RequestView(step, sent, basis, any_sent or sent is not None)


def attempt(
    status: AttemptStatus, claimed: datetime = NOW, retry: datetime | None = None
) -> AttemptView:
    return AttemptView(status, 1, claimed, retry)


def test_new_request_sends_the_first_step() -> None:
    d = decide(view(), None, GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.step_index, d.skipped) == (Outcome.SEND, 0, ())


def test_waits_for_an_answer_then_escalates() -> None:
    sent = NOW - timedelta(days=1)
    d = decide(
        view(0, sent), attempt(AttemptStatus.SENT, sent), GATE, STEPS, NOW, claim_lease=LEASE
    )
    assert (d.outcome, d.until, d.reason) == (
        Outcome.WAIT,
        sent + timedelta(days=3),
        "awaiting_answer",
    )
    later = sent + timedelta(days=3)
    d = decide(
        view(0, sent), attempt(AttemptStatus.SENT, sent), GATE, STEPS, later, claim_lease=LEASE
    )
    assert (d.outcome, d.step_index, d.escalated) == (Outcome.SEND, 1, True)


def test_silence_after_the_last_step_expires() -> None:
    sent = NOW - timedelta(days=2)
    d = decide(
        view(2, sent), attempt(AttemptStatus.SENT, sent), GATE, STEPS, NOW, claim_lease=LEASE
    )
    assert (d.outcome, d.reason) == (Outcome.EXPIRE, "no_answer")


def test_blocked_person_is_cancelled_whatever_the_step() -> None:
    blocked = Gate(blocked="objection", timezone="Europe/Rome", blocks=OPEN)
    d = decide(view(1, NOW), attempt(AttemptStatus.SENT), blocked, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.reason) == (Outcome.CANCEL, "objection")


def test_missing_address_and_suppressed_channel_are_skipped() -> None:
    blocks = {**OPEN, Channel.EMAIL: "no_address", Channel.SMS: "suppressed:stop"}
    gate = Gate(None, "Europe/Rome", blocks=blocks)
    d = decide(view(), None, gate, STEPS, NOW, claim_lease=LEASE)
    assert d.outcome is Outcome.SEND and d.step_index == 2
    assert d.skipped == ((0, Channel.EMAIL, "no_address"), (1, Channel.SMS, "suppressed:stop"))


def test_channels_without_a_basis_are_skipped() -> None:
    blocks = {**OPEN, Channel.SMS: "no_channel_consent", Channel.IVR: "no_channel_consent"}
    gate = Gate(None, "Europe/Rome", blocks=blocks)
    sent = NOW - timedelta(days=4)
    d = decide(
        view(0, sent, basis=RequestBasis.DECLARED),
        attempt(AttemptStatus.SENT, sent),
        gate,
        STEPS,
        NOW,
        claim_lease=LEASE,
    )
    assert d.outcome is Outcome.EXPIRE
    assert [s[2] for s in d.skipped] == ["no_channel_consent", "no_channel_consent"]


def test_a_channel_the_gate_did_not_judge_is_never_used() -> None:
    gate = Gate(None, "Europe/Rome", blocks={Channel.EMAIL: None})
    d = decide(view(1), None, gate, STEPS, NOW, claim_lease=LEASE)
    assert d.outcome is Outcome.FAIL
    assert [s[2] for s in d.skipped] == ["no_channel_consent", "no_channel_consent"]


def test_nobody_reachable_fails() -> None:
    gate = Gate(None, "Europe/Rome", blocks=dict.fromkeys(OPEN, "no_address"))
    d = decide(view(), None, gate, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.reason, len(d.skipped)) == (Outcome.FAIL, "unreachable", 3)


def test_permanent_failure_escalates_at_once() -> None:
    d = decide(view(0), attempt(AttemptStatus.FAILED), GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.step_index) == (Outcome.SEND, 1)


def test_transient_failure_waits_for_its_retry_time() -> None:
    retry = NOW + timedelta(seconds=30)
    d = decide(
        view(0), attempt(AttemptStatus.RETRY, retry=retry), GATE, STEPS, NOW, claim_lease=LEASE
    )
    assert (d.outcome, d.until) == (Outcome.WAIT, retry)
    d = decide(
        view(0), attempt(AttemptStatus.RETRY, retry=retry), GATE, STEPS, retry, claim_lease=LEASE
    )
    assert (d.outcome, d.step_index) == (Outcome.SEND, 0)


def test_quiet_hours_defer_the_call() -> None:
    sunday = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
    sent = sunday - timedelta(days=2)
    d = decide(
        view(1, sent), attempt(AttemptStatus.SENT, sent), GATE, STEPS, sunday, claim_lease=LEASE
    )
    # The SMS wait is over; the IVR step may not ring on a Sunday nor on Monday 7 Dec before 10:00.
    assert (d.outcome, d.step_index, d.reason) == (Outcome.WAIT, 2, "quiet_hours")
    assert d.until == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_live_claim_is_left_alone_and_a_lost_one_is_presumed_sent() -> None:
    claimed = NOW - timedelta(minutes=5)
    d = decide(
        view(0), attempt(AttemptStatus.SENDING, claimed), GATE, STEPS, NOW, claim_lease=LEASE
    )
    assert (d.outcome, d.reason) == (Outcome.WAIT, "claimed")
    lost = NOW - timedelta(hours=1)
    d = decide(view(0), attempt(AttemptStatus.SENDING, lost), GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.presumed_sent_at, d.until) == (
        Outcome.WAIT,
        lost,
        lost + timedelta(days=3),
    )


def test_lost_call_on_an_idempotent_channel_is_sent_again() -> None:
    lost = NOW - timedelta(hours=1)
    d = decide(
        view(0),
        attempt(AttemptStatus.SENDING, lost),
        GATE,
        STEPS,
        NOW,
        claim_lease=LEASE,
        idempotent=frozenset({Channel.EMAIL}),
    )
    assert (d.outcome, d.step_index, d.presumed_sent_at) == (Outcome.SEND, 0, None)


def test_claim_never_handed_to_the_provider_is_sent_after_the_lease() -> None:
    lost = NOW - timedelta(hours=1)
    d = decide(view(0), attempt(AttemptStatus.CLAIMED, lost), GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.step_index, d.presumed_sent_at) == (Outcome.SEND, 0, None)


def test_a_lost_claim_found_after_its_wait_is_presumed_sent_as_the_request_moves_on() -> None:
    claimed = NOW - timedelta(days=4)  # the e-mail step's 3-day wait is over too
    lost = attempt(AttemptStatus.SENDING, claimed)
    d = decide(view(0), lost, GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.step_index, d.presumed_sent_at) == (Outcome.SEND, 1, claimed)
    only = STEPS[:1]  # nothing after it: the request expires unanswered, it did not fail
    d = decide(view(0), lost, GATE, only, NOW, claim_lease=LEASE)
    assert (d.outcome, d.reason, d.presumed_sent_at) == (Outcome.EXPIRE, "no_answer", claimed)


RESEND = {Channel.EMAIL: timedelta(hours=1)}


def test_a_lost_outcome_on_a_reporting_channel_waits_for_the_report_then_is_sent_again() -> None:
    claimed = NOW - timedelta(minutes=20)  # past the lease, inside the bounded wait
    lost = attempt(AttemptStatus.SENDING, claimed)
    d = decide(view(0), lost, GATE, STEPS, NOW, claim_lease=LEASE, resend_unseen=RESEND)
    # Presumed (UNKNOWN), and the request wakes when the bounded wait is over.
    assert (d.outcome, d.reason, d.presumed_sent_at, d.until) == (
        Outcome.WAIT,
        "unconfirmed",
        claimed,
        claimed + timedelta(hours=1),
    )
    unknown = attempt(AttemptStatus.UNKNOWN, claimed)
    d = decide(view(0, claimed), unknown, GATE, STEPS, NOW, claim_lease=LEASE, resend_unseen=RESEND)
    assert (d.outcome, d.reason, d.until) == (
        Outcome.WAIT,
        "unconfirmed",
        claimed + timedelta(hours=1),
    )
    later = claimed + timedelta(hours=1)
    d = decide(
        view(0, claimed), unknown, GATE, STEPS, later, claim_lease=LEASE, resend_unseen=RESEND
    )
    assert (d.outcome, d.step_index, d.resend, d.presumed_sent_at) == (Outcome.SEND, 0, True, None)


def test_a_lost_outcome_found_late_is_presumed_then_re_sent_at_the_next_tick() -> None:
    claimed = NOW - timedelta(hours=2)
    lost = attempt(AttemptStatus.SENDING, claimed)
    d = decide(view(0), lost, GATE, STEPS, NOW, claim_lease=LEASE, resend_unseen=RESEND)
    assert (d.outcome, d.reason, d.presumed_sent_at, d.until) == (
        Outcome.WAIT,
        "unconfirmed",
        claimed,
        NOW,
    )


def test_a_confirmed_send_is_never_re_sent_and_an_unconfirmed_one_does_not_escalate() -> None:
    claimed = NOW - timedelta(days=4)  # the 3-day wait is over
    sent = attempt(AttemptStatus.SENT, claimed)
    d = decide(view(0, claimed), sent, GATE, STEPS, NOW, claim_lease=LEASE, resend_unseen=RESEND)
    assert (d.outcome, d.step_index, d.resend) == (Outcome.SEND, 1, False)
    # Re-sent, but quiet hours or a block on the channel still apply.
    unknown = attempt(AttemptStatus.UNKNOWN, NOW - timedelta(hours=2))
    shut = Gate(blocked=None, timezone="Europe/Rome", blocks={**OPEN, Channel.EMAIL: "suppressed"})
    d = decide(
        view(0, NOW - timedelta(hours=2)),
        unknown,
        shut,
        STEPS,
        NOW,
        claim_lease=LEASE,
        resend_unseen=RESEND,
    )
    assert (d.outcome, d.step_index, d.resend) == (Outcome.SEND, 1, False)
    assert d.skipped == ((0, Channel.EMAIL, "suppressed"),)


def test_without_a_reporting_channel_a_lost_outcome_stays_presumed_sent() -> None:
    claimed = NOW - timedelta(hours=2)
    unknown = attempt(AttemptStatus.UNKNOWN, claimed)
    d = decide(view(0, claimed), unknown, GATE, STEPS, NOW, claim_lease=LEASE)
    assert (d.outcome, d.reason, d.until) == (
        Outcome.WAIT,
        "awaiting_answer",
        claimed + timedelta(days=3),
    )
