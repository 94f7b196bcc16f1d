"""A token bucket, the one rate rule of the product.

Two ways to spend, one refill:

* :meth:`TokenBucket.reserve` (provider pacing): take ``n`` tokens now, going
  into debt if needed, and learn how long to wait before using them;
* :meth:`TokenBucket.try_take` (the portal's per-client limits): take one token
  only if there is one; otherwise take nothing and learn when one is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # bucket size
    tokens: float = field(init=False)
    at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def reserve(self, n: int, now: float) -> float:
        """Take ``n`` tokens; return the seconds to wait before using them (0: now)."""
        self._refill(now)
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def try_take(self, now: float) -> float:
        """Take one token if there is one (0.0); else take none and return the seconds
        until one is free."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate
