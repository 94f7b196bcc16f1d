"""A small time-bounded cache for what every page of a wave shares.

The portal's hot paths read the same few things for every person of a wave:
the wave's validated configuration, its purposes, the notice in force per
language.  Published notices never change; waves and purposes change rarely
(a catalog reload may retitle a purpose), so entries live ``ttl`` seconds
(60 by default): a change shows within a minute, and a hot wave is read from
the database once a minute instead of on every request.  One cache per
portal (per app), so two apps on two databases never share entries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["TtlCache"]


class TtlCache:
    def __init__(
        self,
        ttl: float = 60.0,
        *,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The cached value of ``key``, built (outside the lock) when missing or stale."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            value: T = entry[1]
            return value
        value = build()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
