from __future__ import annotations

import pytest

from reconsent.kernel.rules.token_bucket import TokenBucket


def test_bucket_allows_a_burst_then_paces() -> None:
    bucket = TokenBucket(rate=2.0, burst=2.0)
    assert bucket.reserve(2, now=0.0) == 0.0
    assert bucket.reserve(1, now=0.0) == pytest.approx(0.5)
    assert bucket.reserve(1, now=0.5) == pytest.approx(0.5)  # still paying the earlier debt
    assert bucket.reserve(1, now=10.0) == 0.0  # refilled, capped at the burst


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0, burst=1)


def test_try_take_spends_only_what_there_is() -> None:
    bucket = TokenBucket(rate=0.1, burst=2.0)  # one token every 10 s
    assert bucket.try_take(now=0.0) == 0.0
    assert bucket.try_take(now=0.0) == 0.0
    assert bucket.try_take(now=0.0) == pytest.approx(10.0)  # refused: nothing taken
    assert bucket.try_take(now=5.0) == pytest.approx(5.0)  # half a token refilled
    assert bucket.try_take(now=10.0) == 0.0
