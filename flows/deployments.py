"""Serving reconsent's deployments to a Prefect server (``reconsent deploy``, ``make up``).

Deployments, named so a person reading the UI knows what runs:

- ``launch-wave/launch-a-wave``: start a wave from the UI form (the WaveConfig);
- ``tick-active-waves/every-N-minutes``: the schedule that advances every open wave;
- ``wave-tick/tick-one-wave``: advance one wave now (parameter: its id);
- ``control-wave/control-a-wave``: pause, resume, cancel, approve, decline, edit or
  promote a wave (the form: its id, the action, who, why).
- ``apply-retention/daily``: the retention policy, once a day at 03:00 UTC.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from reconsent.kernel.errors import ConfigError

DEFAULT_API = "http://127.0.0.1:4200/api"


def deployment_specs(interval: timedelta) -> list[tuple[str, dict[str, Any]]]:
    """Each deployment as (its flow's entrypoint, what the deployment says): served by
    :func:`build_deployments`, or registered on a work pool (``flows/work_pool.py``)."""
    minutes = max(1, int(interval.total_seconds() // 60))
    return [
        (
            "flows/launch.py:launch_wave",
            {
                "name": "launch-a-wave",
                "description": "Create a re-consent wave from the form and run its first tick.",
                "tags": ["reconsent", "launcher"],
            },
        ),
        (
            "flows/sweep.py:tick_active_waves",
            {
                "name": f"every-{minutes}-minutes",
                "interval": interval,
                "concurrency_limit": 1,  # one sweep at a time; a late one waits for the last
                "description": "Advance every open wave: send what is due, escalate, expire.",
                "tags": ["reconsent", "schedule"],
            },
        ),
        (
            "flows/wave_tick.py:wave_tick",
            {
                "name": "tick-one-wave",
                "description": "Advance one wave now (idempotent: only what is due happens).",
                "tags": ["reconsent", "manual"],
            },
        ),
        (
            "flows/wave_control.py:control_wave_flow",
            {
                "name": "control-a-wave",
                "description": "Pause, resume, cancel, approve or decline the audience of, "
                "edit or promote a wave (who and why are kept in its audit).",
                "tags": ["reconsent", "manual"],
            },
        ),
        (
            "flows/retention.py:apply_retention_flow",
            {
                "name": "daily",
                "cron": "0 3 * * *",
                "description": "Minimise whom the retention policy no longer lets us keep "
                "(counts only).",
                "tags": ["reconsent", "schedule", "retention"],
            },
        ),
    ]


def build_deployments(interval: timedelta) -> list[Any]:
    """The deployments ``reconsent deploy`` serves from this process."""
    deployments = []
    for entrypoint, spec in deployment_specs(interval):
        path, name = entrypoint.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        deployments.append(getattr(module, name).to_deployment(**spec))
    return deployments


def api_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_server(
    api_url: str, log_dir: Path, wait_seconds: float = 90
) -> subprocess.Popen[bytes] | None:
    """Start ``prefect server start`` unless ``api_url`` already answers; wait until healthy."""
    if api_healthy(api_url):
        return None
    if api_url != DEFAULT_API:
        raise ConfigError(f"no Prefect server answers at {api_url}")
    prefect = str(Path(sys.executable).with_name("prefect"))
    if not Path(prefect).exists():
        prefect = shutil.which("prefect") or "prefect"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / "prefect-server.log").open("ab")
    server = subprocess.Popen(  # noqa: S603 - our own venv's prefect, fixed arguments
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", "4200"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if api_healthy(api_url):
            return server
        if server.poll() is not None:
            raise ConfigError(f"prefect server exited early; see {log_dir / 'prefect-server.log'}")
        time.sleep(0.5)
    server.terminate()
    raise ConfigError(f"prefect server did not become healthy in {wait_seconds:.0f} s")
