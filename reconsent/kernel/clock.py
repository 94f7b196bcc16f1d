"""Time as a dependency: the system clock in production, fixed clocks in tests.

All datetimes in reconsent are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to (tests and the demo's virtual time)."""

    at: datetime
    _offset: timedelta = field(default_factory=timedelta)

    def __post_init__(self) -> None:
        self.at = ensure_utc(self.at)

    def now(self) -> datetime:
        return self.at + self._offset

    def advance(self, delta: timedelta) -> datetime:
        self._offset += delta
        return self.now()

    def set(self, at: datetime) -> None:
        self.at = ensure_utc(at)
        self._offset = timedelta()


def ensure_utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime (SQLite returns naive) or convert an aware one."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
