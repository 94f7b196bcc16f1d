"""``reconsent deploy``: a Prefect server (started if needed) serving reconsent's deployments."""

from __future__ import annotations

import os
from datetime import timedelta

import typer

from reconsent.cli.context import console, engine, settings
from reconsent.kernel.durations import parse_duration
from reconsent.kernel.errors import ConfigError
from reconsent.settings import Settings


def _check_database(cfg: Settings) -> None:
    """Refuse to serve schedules that would fail on every run: the database must have
    this release's schema (``make up`` after ``make demo`` points at the demo's)."""
    from reconsent.db import schema_problem
    from reconsent.kernel.url_masking import mask_url_passwords

    eng = engine(cfg)
    try:
        problem = schema_problem(eng)
    finally:
        eng.dispose()
    if problem:
        raise ConfigError(
            f"{mask_url_passwords(cfg.database_url)}: {problem}; or point "
            "RECONSENT_DATABASE_URL (and RECONSENT_DATA_DIR) at the database to serve, "
            "e.g. the demo's: see `make up`"
        )


def _register(pool: str, every: timedelta, ui: str) -> None:
    from flows.work_pool import register_on_pool

    for name, _deployment_id in register_on_pool(pool, every):
        console.print(f"registered {name} on work pool {pool}")
    console.print(
        f"Prefect UI: {ui}. Start workers (each on a machine with this project, its "
        f"RECONSENT_* settings and the database): prefect worker start --pool {pool}",
        soft_wrap=True,
    )


def deploy(
    interval: str = typer.Option("5m", help="How often every open wave is ticked."),
    start_server: bool = typer.Option(
        True, help="Start `prefect server start` on 127.0.0.1:4200 unless one answers."
    ),
    work_pool: str | None = typer.Option(
        None,
        "--work-pool",
        help="Register the deployments on this process work pool (made if missing) and "
        "exit: `prefect worker start --pool NAME` runs them, as many workers as wanted.",
    ),
) -> None:
    """Serve the launcher, the scheduled tick of every open wave, a manual tick, the
    wave controls and the daily retention; or register them on a work pool.

    Serving runs until interrupted (Ctrl-C); the Prefect UI shows the runs and their
    artifacts.
    """
    from flows.deployments import DEFAULT_API, build_deployments, ensure_server

    cfg = settings()
    try:
        every = parse_duration(interval)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _check_database(cfg)
    api = os.environ.setdefault("PREFECT_API_URL", DEFAULT_API)
    server = ensure_server(api, cfg.data_dir / "prefect") if start_server else None
    from prefect import serve

    ui = api.removesuffix("/api")
    if work_pool is not None:
        _register(work_pool, every, ui)
        return
    console.print(
        f"Prefect UI: {ui}  (deployments: launch-wave, tick-active-waves, wave-tick, "
        "apply-retention)"
    )
    try:
        serve(*build_deployments(every), print_starting_message=False)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
