"""Launching a wave from the Prefect UI: the parameter is the WaveConfig itself, so
"Custom run" renders it as a form (purposes, steps, waits, lawful basis...)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, tags, task

from flows.wave_tick import wave_tick
from reconsent.campaigns.waves import create_wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.waveconfig import WaveConfig
from reconsent.wiring import get_runtime


@task(name="create-wave")
def create_wave_task(config: WaveConfig) -> int:
    with unit_of_work(get_runtime().engine) as session:
        return create_wave(session, config, SystemClock().now()).id


@flow(name="launch-wave", flow_run_name="launch {config.name}", log_prints=False)
def launch_wave(config: WaveConfig) -> dict[str, Any]:
    """Create the wave and run its first tick (preflight, then the first step's sends).

    Later ticks come from the ``tick-active-waves`` deployment's schedule.
    """
    wave_id = create_wave_task(config)
    get_run_logger().info("wave %s created (%s)", wave_id, "dry run" if config.dry_run else "live")
    with tags(f"wave-{wave_id}"):
        return wave_tick(wave_id)
