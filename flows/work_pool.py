"""``reconsent deploy --work-pool NAME``: the deployments registered on a Prefect work
pool instead of served by one process. Any number of workers, on any machines that
have this project, its environment (``RECONSENT_*``) and the database, then run them:

    prefect worker start --pool NAME      # once per worker (per machine, per core...)

A process pool runs each flow run in a subprocess of a worker, from this project's
folder (``from_source``: the code is not copied anywhere). What keeps several workers
correct is in the database and Prefect: a wave's first planning is claimed once, the
due requests are claimed with ``FOR UPDATE SKIP LOCKED``, provider pacing is one
token bucket per channel in the database, one sweep runs at a time and one tick per
wave (a global concurrency slot).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.flows import Flow

from flows.deployments import deployment_specs

__all__ = ["PROJECT", "register_on_pool"]

#: The folder the workers load the flows from (this checkout).
PROJECT = Path(__file__).resolve().parents[1]


def register_on_pool(
    pool: str, interval: timedelta, source: Path = PROJECT
) -> list[tuple[str, Any]]:
    """Create the process pool ``pool`` if it does not exist and register every
    deployment on it; returns ``(flow/deployment name, deployment id)``."""
    # A pool made before is used as it is.
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    registered = []
    for entrypoint, spec in deployment_specs(interval):
        flow = Flow.from_source(source=str(source), entrypoint=entrypoint)
        assert isinstance(flow, Flow)  # called from sync code: the flow, not a coroutine
        deployment_id = flow.deploy(
            work_pool_name=pool, build=False, push=False, print_next_steps=False, **spec
        )
        registered.append((f"{flow.name}/{spec['name']}", deployment_id))
    return registered
