"""Provider pacing across workers: two dispatchers with their own engines (as two
processes or machines are), sending one paced channel at once on one database, keep
to the configured rate together, on SQLite and PostgreSQL. Real threads, real time,
measured where the messages arrive."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine

from reconsent.db import make_engine
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.ports import OutboundMessage
from reconsent.kernel.vocab import Channel
from tests.conftest import make_settings
from tests.support.dispatch_waves import wave_with
from tests.support.fakes import adapters

RATE, PEOPLE = 4.0, 16  # 4 e-mails a second together; a burst of 4


def test_two_workers_send_a_paced_channel_at_the_rate_together(
    engine: Engine, clock: FixedClock, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(tmp_path, db_url, send_rate_per_second={"email": RATE})
    wave_id = wave_with(engine, clock, n=PEOPLE)
    arrivals: list[float] = []
    lock = threading.Lock()

    def arrived(_message: OutboundMessage) -> None:
        with lock:
            arrivals.append(time.monotonic())

    fakes = adapters()
    fakes[Channel.EMAIL].outcome = arrived
    probe = Dispatcher(engine, settings, fakes)
    halves = probe.due_ranges(wave_id, clock.now(), PEOPLE // 2)
    assert len(halves) == 2
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker(lo: int, hi: int) -> None:
        own = make_engine(db_url)  # a worker of its own: its own pool and pacer
        try:
            dispatcher = Dispatcher(own, settings, fakes)
            start.wait()
            dispatcher.advance(wave_id, lo, hi, clock.now())
        except BaseException as exc:  # the test reports any failure
            failures.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker, args=half) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    sent = fakes[Channel.EMAIL].sent
    assert len(sent) == PEOPLE and len({m.request_id for m in sent}) == PEOPLE  # once each
    arrivals.sort()
    # After the burst, 4 a second for both workers together (each alone would send its 8
    # at 4 a second: the 16 in ~1 s instead of ~3 s).
    assert arrivals[-1] - arrivals[0] >= (PEOPLE - RATE) / RATE - 0.25
    for i, at in enumerate(arrivals):
        in_window = [t for t in arrivals[i:] if t - at < 1.0]
        assert len(in_window) <= 2 * RATE, "more than the burst and a second's worth"
