"""``reconsent worker``: a Prefect task worker for the batches of wave ticks."""

from __future__ import annotations

import os

import typer

from reconsent.cli.context import console, settings


def worker(
    limit: int = typer.Option(
        4, min=1, max=64, help="Batches this worker runs at once (threads of this process)."
    ),
) -> None:
    """Run the batches that ticks submit to task workers (RECONSENT_TICK_BATCH_RUNNER=
    task-workers), until interrupted.

    Start one per process or machine that should send: each needs this project, its
    RECONSENT_* settings, the database, PREFECT_API_URL, and the Prefect result storage
    the ticks use (the default, PREFECT_HOME's storage folder, is this machine's only:
    across machines point PREFECT_LOCAL_STORAGE_PATH at a shared folder, or set
    PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK). The database claims every request once, so
    any number of workers can share a wave; pacing is shared through the database.
    """
    from flows.deployments import DEFAULT_API

    settings()  # a bad setting is one line here, not an error in every batch
    api = os.environ.setdefault("PREFECT_API_URL", DEFAULT_API)
    from prefect.task_worker import serve

    from flows.wave_tick import advance_batch_task

    console.print(f"task worker for {advance_batch_task.name} on {api}, {limit} at once")
    serve(advance_batch_task, limit=limit)
