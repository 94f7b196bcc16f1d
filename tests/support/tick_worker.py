"""A dispatcher in its own process, for tests that kill it mid-batch (SIGKILL).

python -m tests.support.tick_worker SETTINGS_JSON WAVE_ID NOW_ISO [KILL_AT]

``KILL_AT`` (optional) is ``before:N`` or ``after:N``: the process sends itself
SIGKILL just before, or just after, its N-th provider call (the chunk is marked
SENDING and committed before the call; its results are not recorded after it).
Without it the test kills the process from outside.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime

from reconsent.db import make_engine
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.ports import ChannelAdapter, OutboundMessage, SendResult
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings
from reconsent.wiring import build_adapters


class _Killing:
    """The real adapter, with a real ``kill -9`` of this process around one call."""

    calls = 0  # provider calls of this process, over every channel

    def __init__(self, inner: ChannelAdapter, when: str, nth: int) -> None:
        self.inner, self.when, self.nth = inner, when, nth
        self.channel, self.provider = inner.channel, inner.provider
        self.max_batch, self.idempotent = inner.max_batch, inner.idempotent
        self.reports_back = inner.reports_back

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        _Killing.calls += 1
        due = _Killing.calls == self.nth
        if due and self.when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        results = self.inner.send(messages)
        if due and self.when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return results


def main() -> None:
    settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
    wave_id, now = int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    adapters: dict[Channel, ChannelAdapter] = build_adapters(settings)
    if len(sys.argv) > 4:
        when, nth = sys.argv[4].split(":")
        adapters = {c: _Killing(a, when, int(nth)) for c, a in adapters.items()}
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(engine, settings, adapters)
    for lo, hi in dispatcher.due_ranges(wave_id, now, 5000):
        dispatcher.advance(wave_id, lo, hi, now)


if __name__ == "__main__":
    main()
