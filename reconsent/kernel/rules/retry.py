"""Backoff between tries of a step that failed transiently."""

from __future__ import annotations

from datetime import timedelta


def backoff(tries: int, retry_after: float | None) -> timedelta:
    """30 s, 60 s, 120 s ... capped at one hour, and never sooner than Retry-After."""
    seconds = min(3600.0, 30.0 * 2 ** max(0, tries - 1))
    return timedelta(seconds=max(seconds, retry_after or 0.0))
