"""Scripted faults shared by the emulators: a thread-safe queue of canned answers."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One scripted answer: ``status`` None means "answer normally" (after ``delay``)."""

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    code: int | None = None  # provider error code (Twilio)
    message: str | None = None


class FaultScript:
    """Faults served in order, one per incoming request, before normal handling."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()

    def add(self, fault: Fault, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.extend([fault] * times)

    def pop(self) -> Fault | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)
