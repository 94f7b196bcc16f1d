"""The one-time code rules: lifetime, attempts, the lock and the request limits (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.rules.one_time_codes import (
    ChallengeState,
    CodePolicy,
    Refusal,
    Verdict,
    check_attempt,
    code_digest,
    new_code,
    request_refusal,
    well_formed,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
POLICY = CodePolicy()  # 10 minutes, 3 attempts, a 30-minute lock


def _fresh(**changes: object) -> ChallengeState:
    values: dict[str, object] = {
        "expires_at": NOW + timedelta(minutes=10),
        "attempts": 0,
        "locked_until": None,
        "used_at": None,
    }
    values.update(changes)
    return ChallengeState(**values)  # type: ignore[arg-type]


def test_a_code_is_six_digits_with_leading_zeros_kept() -> None:
    assert new_code(lambda _bound: 42) == "000042"
    assert new_code(lambda bound: bound - 1) == "999999"


def test_only_six_digits_are_a_code_spaces_aside() -> None:
    assert well_formed(" 123 456 ") == "123456"
    assert [well_formed(t) for t in ("12345", "1234567", "12345a", "١٢٣٤٥٦", "")] == [None] * 5


def test_the_digest_is_keyed_and_bound_to_its_challenge() -> None:
    digest = code_digest(b"k", "challenge-a", "123456")
    assert digest != code_digest(b"k", "challenge-b", "123456")
    assert digest != code_digest(b"other", "challenge-a", "123456")
    assert "123456" not in digest and len(digest) == 64


def test_the_right_code_in_time_is_used_up_once() -> None:
    first = check_attempt(_fresh(), NOW, True, POLICY)
    assert (first.verdict, first.used_at) == (Verdict.OK, NOW)

    again = check_attempt(_fresh(used_at=NOW), NOW + timedelta(seconds=5), True, POLICY)
    assert again.verdict is Verdict.USED


def test_three_wrong_codes_lock_the_challenge_for_a_while() -> None:
    state = _fresh()
    lefts = []
    for minute in range(3):
        attempt = check_attempt(state, NOW + timedelta(minutes=minute), False, POLICY)
        lefts.append((attempt.verdict, attempt.attempts_left))
        state = ChallengeState(
            state.expires_at, attempt.attempts, attempt.locked_until, attempt.used_at
        )
    assert lefts == [(Verdict.WRONG, 2), (Verdict.WRONG, 1), (Verdict.LOCKED, 0)]
    assert state.locked_until == NOW + timedelta(minutes=2, seconds=0) + POLICY.lock
    # locked: even the right code is refused, and the refusal is not counted
    locked = check_attempt(state, NOW + timedelta(minutes=5), True, POLICY)
    assert (locked.verdict, locked.attempts) == (Verdict.LOCKED, 3)
    # after the lock, this challenge stays dead: a new code is needed
    later = check_attempt(state, NOW + timedelta(hours=1), True, POLICY)
    assert later.verdict is Verdict.LOCKED and later.used_at is None


def test_a_code_expires_after_its_lifetime() -> None:
    assert check_attempt(_fresh(), NOW + timedelta(minutes=10), True, POLICY).verdict is (
        Verdict.EXPIRED
    )
    assert check_attempt(
        _fresh(), NOW + timedelta(minutes=9, seconds=59), True, POLICY
    ).verdict is (Verdict.OK)


def test_requests_are_refused_while_locked_and_over_the_limits() -> None:
    def refusal(**kwargs: object) -> Refusal | None:
        values: dict[str, object] = {
            "address_requests": [],
            "client_requests": [],
            "address_locks": [],
            "policy": POLICY,
        }
        values.update(kwargs)
        return request_refusal(NOW, **values)  # type: ignore[arg-type]

    assert refusal() is None
    assert refusal(address_locks=[None, NOW + timedelta(minutes=1)]) is Refusal.LOCKED
    assert refusal(address_locks=[NOW]) is None  # the lock is over
    recent = [NOW - timedelta(minutes=m) for m in range(5)]
    assert refusal(address_requests=recent) is Refusal.ADDRESS_LIMIT
    assert refusal(address_requests=[NOW - timedelta(minutes=61)] * 9) is None  # an hour ago
    assert refusal(client_requests=[NOW] * 20) is Refusal.CLIENT_LIMIT
    assert refusal(client_requests=[NOW] * 19) is None


def test_a_policy_needs_a_lifetime_and_attempts() -> None:
    with pytest.raises(ValueError, match="attempt"):
        CodePolicy(max_attempts=0)
    with pytest.raises(ValueError, match="lifetime"):
        CodePolicy(lifetime=timedelta(0))
