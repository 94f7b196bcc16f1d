"""What every contactability check reads and hardly ever changes, cached per process:
the catalog's purposes and the last RPO consultation."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from models import Purpose
from reconsent.eligibility.rpo_register import last_consultation
from reconsent.kernel.vocab import Channel

__all__ = ["PurposeRef", "Reference"]


@dataclass(frozen=True)
class PurposeRef:
    id: int
    code: str
    channel: Channel | None


class Reference:
    """What every check reads and hardly ever changes: the catalog's purposes and the
    last RPO consultation, re-read at most every ``ttl_seconds`` (0: every time)."""

    def __init__(self, ttl_seconds: float = 0) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._purposes: tuple[float, list[PurposeRef]] | None = None
        self._rpo: tuple[float, datetime | None] | None = None

    def _fresh(self, held: tuple[float, Any] | None) -> bool:
        return held is not None and held[0] > time.monotonic()

    def purposes(self, conn: Connection) -> list[PurposeRef]:
        with self._lock:
            held = self._purposes
        if held is not None and self._fresh(held):
            return held[1]
        rows = conn.execute(select(Purpose.id, Purpose.code, Purpose.channel))
        found = [PurposeRef(i, code, channel) for i, code, channel in rows]
        with self._lock:
            self._purposes = (time.monotonic() + self._ttl, found)
        return found

    def last_consultation(self, conn: Connection) -> datetime | None:
        with self._lock:
            held = self._rpo
        if held is not None and self._fresh(held):
            return held[1]
        found = last_consultation(conn)
        with self._lock:
            self._rpo = (time.monotonic() + self._ttl, found)
        return found
