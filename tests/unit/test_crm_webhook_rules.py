"""The CRM webhooks' pure rules: Standard Webhooks signatures, retries, subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.crm_events import EVENT_TYPES, matches, parse_patterns
from reconsent.kernel.rules.webhook_retry import (
    Verdict,
    WebhookAnswer,
    next_try,
    parse_retry_after,
    verdict,
)
from reconsent.kernel.rules.webhook_signing import headers_for, signature, verify

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
#: The example of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'


def test_the_signature_is_the_specifications_example() -> None:
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == expected


def test_verify_accepts_ours_and_refuses_changes_staleness_and_other_keys() -> None:
    headers = headers_for([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert verify(SPEC_SECRET, headers, SPEC_BODY, SPEC_TS + 299)
    assert not verify(SPEC_SECRET, headers, SPEC_BODY + b" ", SPEC_TS)
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, SPEC_TS + 301)
    assert not verify(SPEC_SECRET, headers, SPEC_BODY, SPEC_TS - 301)
    other = "whsec_" + "A" * 32
    assert not verify(other, headers, SPEC_BODY, SPEC_TS)
    assert not verify(SPEC_SECRET, {**headers, "webhook-id": "msg_x"}, SPEC_BODY, SPEC_TS)


def test_during_a_rotation_both_secrets_sign() -> None:
    new = "whsec_" + "B" * 32
    headers = headers_for([new, SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(new, headers, SPEC_BODY, SPEC_TS)
    assert verify(SPEC_SECRET, headers, SPEC_BODY, SPEC_TS)


def test_a_secret_must_be_whsec() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SPEC_ID, SPEC_TS, SPEC_BODY)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (WebhookAnswer(200), Verdict.DELIVERED),
        (WebhookAnswer(204), Verdict.DELIVERED),
        (WebhookAnswer(None, error="timeout"), Verdict.RETRY),
        (WebhookAnswer(503), Verdict.RETRY),
        (WebhookAnswer(500), Verdict.RETRY),
        (WebhookAnswer(429), Verdict.RETRY),
        (WebhookAnswer(408), Verdict.RETRY),
        (WebhookAnswer(400), Verdict.REFUSED),
        (WebhookAnswer(401), Verdict.REFUSED),
        (WebhookAnswer(410), Verdict.REFUSED),
        (WebhookAnswer(302), Verdict.REFUSED),
    ],
)
def test_what_is_retried(answer: WebhookAnswer, expected: Verdict) -> None:
    assert verdict(answer) is expected


def _next(attempts: int, *, jitter: float = 0.5, retry_after: float | None = None) -> float:
    at = next_try(
        attempts=attempts,
        now=NOW,
        first_attempt_at=NOW - timedelta(minutes=1),
        give_up_seconds=86400,
        retry_after=retry_after,
        jitter=jitter,
    )
    assert at is not None
    return (at - NOW).total_seconds()


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert [_next(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert _next(1, jitter=0.0) == 3.75 and _next(1, jitter=0.999) == pytest.approx(6.24, 0.01)
    assert _next(30) == 3600  # capped at an hour


def test_retry_after_is_honoured_as_seconds_or_a_date() -> None:
    assert _next(1, retry_after=120) == 120
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Tue, 01 Dec 2026 10:02:00 GMT", NOW) == 120
    assert parse_retry_after("soon", NOW) is None and parse_retry_after(None, NOW) is None


def test_a_delivery_is_given_up_at_its_deadline() -> None:
    first = NOW - timedelta(seconds=86390)
    last = next_try(
        attempts=20,
        now=NOW,
        first_attempt_at=first,
        give_up_seconds=86400,
        retry_after=None,
        jitter=0.5,
    )
    assert last == first + timedelta(seconds=86400)  # the last try lands on the deadline
    assert (
        next_try(
            attempts=21,
            now=last,
            first_attempt_at=first,
            give_up_seconds=86400,
            retry_after=None,
            jitter=0.5,
        )
        is None
    )


def test_subscriptions_are_globs_over_known_types() -> None:
    patterns = parse_patterns("consent.changed, rights.request.*,consent.changed")
    assert patterns == ["consent.changed", "rights.request.*"]
    assert matches(patterns, "rights.request.completed")
    assert not matches(patterns, "objection.recorded")
    assert all(matches(parse_patterns("*"), kind) for kind in EVENT_TYPES)
    for bad in ("consent.chnaged", "rights.*.x", "", "DROP TABLE;"):
        with pytest.raises(ValueError):
            parse_patterns(bad)
