"""Two Prefect workers on separate processes running one new wave's ticks at once
from a work pool (the deployments registered by ``reconsent deploy --work-pool``), on
PostgreSQL: the planning is claimed once, no traceback, every request sent once,
measured at the file outbox. (The Prefect server is the suite's test server; the
README shows the same set-up with a Prefect server on PostgreSQL.)"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import get_current_settings
from sqlalchemy import Engine, func, select

from models import SendAttempt
from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from tests.support import factories

pytestmark = pytest.mark.prefect
PEOPLE = 40


def test_two_workers_tick_one_wave_from_a_work_pool_and_send_each_request_once(
    prefect_harness: None, pg_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    from flows.work_pool import PROJECT, register_on_pool

    engine: Engine = make_engine(pg_url)
    now = clock.now()
    with unit_of_work(engine) as s:  # a new wave: both ticks race to plan it first
        p = factories.add_catalog(s, now)
        for n in range(PEOPLE):
            c = factories.add_contact(s, now, f"w{n}", email=f"w{n}@example.com")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=800))
        wave_id = factories.add_wave(s, now).id
    pool = f"workers-{tmp_path.name}"[:40]
    register_on_pool(pool, timedelta(minutes=5))
    outbox = tmp_path / "outbox"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECONSENT_")},
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "RECONSENT_DATABASE_URL": pg_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_OUTBOX_DIR": str(outbox),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "flow-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_PORTAL_BASE_URL": "http://portal.test",
    }
    runs = [
        run_deployment(
            "wave-tick/tick-one-wave",
            parameters={"wave_id": wave_id, "now": clock.now().isoformat()},
            timeout=0,
        )
        for _ in range(2)
    ]
    ids = [run.id for run in runs if isinstance(run, FlowRun)]  # sync: runs, not coroutines
    assert len(ids) == 2
    prefect = str(Path(sys.executable).with_name("prefect"))
    outputs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(2)]
    workers = [  # logs to files: a full pipe would stall a worker
        subprocess.Popen(
            [prefect, "worker", "start", "--pool", pool, "--limit", "1"],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        for out in outputs
    ]

    async def final_states() -> list[str]:
        # Polling the API for the runs' states, bounded: each worker polls the pool on
        # its own schedule, so either may take either run.
        async with get_client() as client:
            for _ in range(360):
                found = [await client.read_flow_run(i) for i in ids]
                if all(r.state and r.state.is_final() for r in found):
                    return [r.state.type.value if r.state else "?" for r in found]
                await asyncio.sleep(0.5)
        return ["timeout"]

    try:
        states = asyncio.run(final_states())
    finally:
        for worker in workers:
            worker.terminate()
        for worker, out in zip(workers, outputs, strict=True):
            worker.wait(timeout=60)
            out.close()
        logs = [(tmp_path / f"worker-{n}.log").read_text(errors="replace") for n in range(2)]
    assert states == ["COMPLETED", "COMPLETED"], logs
    index = [json.loads(line) for line in (outbox / "index.jsonl").read_text().splitlines()]
    assert len(index) == PEOPLE
    assert len({entry["request_id"] for entry in index}) == PEOPLE  # each request once
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == PEOPLE
    assert not any("Traceback" in log for log in logs), logs
    engine.dispose()
