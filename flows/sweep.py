"""The scheduled heartbeat: tick every wave that still has work (one subflow each)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, tags, task
from sqlalchemy import select

from flows.wave_tick import wave_tick
from models import Wave
from reconsent.db import unit_of_work
from reconsent.runtime import get_runtime
from reconsent.vocab import WaveStatus

ACTIVE = (WaveStatus.DRAFT, WaveStatus.RUNNING)


@task(name="find-active-waves")
def active_waves_task() -> list[int]:
    with unit_of_work(get_runtime().engine) as session:
        return list(
            session.scalars(select(Wave.id).where(Wave.status.in_(ACTIVE)).order_by(Wave.id))
        )


@flow(name="tick-active-waves", log_prints=False)
def tick_active_waves() -> dict[str, Any]:
    """Advance every draft or running wave; each wave's tick is its own flow run."""
    results: dict[str, Any] = {}
    for wave_id in active_waves_task():
        with tags(f"wave-{wave_id}"):
            results[str(wave_id)] = wave_tick(wave_id)["funnel"]["requests"]
    get_run_logger().info("ticked %d wave(s)", len(results))
    return results
