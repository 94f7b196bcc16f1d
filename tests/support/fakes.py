"""A recording channel adapter: the fake for dispatcher tests (real adapters are
tested against the emulated providers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reconsent.kernel.ports import OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.vocab import Channel


@dataclass
class RecordingAdapter:
    channel: Channel
    provider: str = "fake"
    max_batch: int = 1000
    idempotent: bool = False
    reports_back: bool = False
    #: Decide the outcome per message (default: sent).
    outcome: Callable[[OutboundMessage], SendResult | None] = lambda _m: None
    sent: list[OutboundMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results = []
        for message in messages:
            result = self.outcome(message) or SendResult(
                message.attempt_id, SendOutcome.SENT, self.provider, f"fake-{message.attempt_id}"
            )
            if result.outcome is SendOutcome.SENT:
                with self._lock:
                    self.sent.append(message)
            results.append(result)
        return results


def adapters(**overrides: RecordingAdapter) -> dict[Channel, RecordingAdapter]:
    made = {c: RecordingAdapter(c) for c in Channel}
    for name, adapter in overrides.items():
        made[Channel(name)] = adapter
    return made
