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
