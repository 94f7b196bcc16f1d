"""A planned wave of a few consenting contacts and a tick of it, for dispatch tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from reconsent.db import unit_of_work
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.planning.planner import plan_wave
from tests.support import factories


def wave_with(engine: Engine, clock: FixedClock, n: int = 3, **wave_overrides: object) -> int:
    """A planned wave of ``n`` people who consented to every channel 800 days ago."""
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for i in range(n):
            c = factories.add_contact(s, now, f"c{i}", email=f"c{i}@example.com")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=800))
        wave = factories.add_wave(s, now, **wave_overrides)
        plan_wave(s, wave, now)
        return wave.id


def tick(d: Dispatcher, wave_id: int, clock: FixedClock) -> None:
    """One tick of ``wave_id``: every due range advanced."""
    for lo, hi in d.due_ranges(wave_id, clock.now(), 2):
        d.advance(wave_id, lo, hi, clock.now())
