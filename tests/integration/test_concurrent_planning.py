"""Two ticks that start a new wave at once (two workers, a sweep and a manual tick):
its planning is claimed once, on SQLite and PostgreSQL, with real threads."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from models import Wave, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import WaveStatus
from reconsent.planning.planner import plan_once
from tests.support import factories

PEOPLE = 300


def test_two_ticks_planning_a_new_wave_at_once_plan_it_once(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for n in range(PEOPLE):
            c = factories.add_contact(s, now, f"person-{n}", flush=False)
            s.flush()
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=900))
        wave_id = factories.add_wave(s, now).id
    start = threading.Barrier(2)
    summaries: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def tick() -> None:
        start.wait()
        try:
            summaries.append(plan_once(engine, wave_id, now))
        except BaseException as exc:  # the test reports any failure
            failures.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(summaries) == 2
    assert summaries[0]["eligible_total"] == summaries[1]["eligible_total"] == PEOPLE
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(WaveRequest)) == PEOPLE
        assert s.get_one(Wave, wave_id).status is WaveStatus.RUNNING
