"""When a CRM webhook delivery is tried again, and when it is given up. Pure.

Retried: a timeout, a connection error, HTTP 5xx, 408 and 429 (never sooner
than its ``Retry-After``); 2xx is delivered; any other answer is a refusal
(a 4xx: the receiver said no) and fails at once (``webhooks replay`` sends it
again once fixed). The waits grow 5 s, 10 s, 20 s ... up to one hour, each
drawn from 75-125% of its value (jitter: a receiver back from an outage is not
hit by every delivery in the same second); a delivery whose first try was
``give_up_seconds`` ago is given up (failed) instead of retried, its last try
landing on that deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

__all__ = ["Verdict", "WebhookAnswer", "next_try", "parse_retry_after", "verdict"]

BASE_SECONDS = 5.0
CAP_SECONDS = 3600.0
RETRIED_STATUSES = frozenset({408, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True)
class WebhookAnswer:
    """What one try got: an HTTP status, or no answer at all (``error``)."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None


def verdict(answer: WebhookAnswer) -> Verdict:
    if answer.status is None:
        return Verdict.RETRY
    if 200 <= answer.status < 300:
        return Verdict.DELIVERED
    if answer.status >= 500 or answer.status in RETRIED_STATUSES:
        return Verdict.RETRY
    return Verdict.REFUSED


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def next_try(
    *,
    attempts: int,
    now: datetime,
    first_attempt_at: datetime,
    give_up_seconds: float,
    retry_after: float | None,
    jitter: float,
) -> datetime | None:
    """When to try again after the ``attempts``-th failed try, or None: give up.

    ``jitter`` is a number in [0, 1) (random in production, fixed in tests).
    """
    deadline = first_attempt_at + timedelta(seconds=give_up_seconds)
    if now >= deadline:
        return None
    wait = min(CAP_SECONDS, BASE_SECONDS * 2 ** max(0, attempts - 1))
    wait *= 0.75 + 0.5 * min(max(jitter, 0.0), 1.0)
    wait = max(wait, retry_after or 0.0)
    return min(now + timedelta(seconds=wait), deadline)
