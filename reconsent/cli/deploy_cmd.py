"""``reconsent deploy``: a Prefect server (started if needed) serving reconsent's deployments."""

from __future__ import annotations

import os

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


def deploy(
    interval: str = typer.Option("5m", help="How often every open wave is ticked."),
    start_server: bool = typer.Option(
        True, help="Start `prefect server start` on 127.0.0.1:4200 unless one answers."
    ),
) -> None:
    """Serve the launcher, the scheduled tick of every open wave, and a manual tick.

    Runs until interrupted (Ctrl-C); the Prefect UI shows the runs and their artifacts.
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
