"""Served deployments on a real Prefect server: the launcher form runs a wave, and the
run publishes its artifacts (what the UI shows)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import arun_deployment
from prefect.runner import Runner
from sqlalchemy import select

from flows.deployments import build_deployments
from models import Wave
from reconsent.campaigns.wave_artifacts import artifact_key
from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState
from reconsent.wiring import reset_runtimes
from tests.support import factories

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served_env(
    prefect_harness: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    for name, value in {
        "RECONSENT_DATABASE_URL": sqlite_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "deploy-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)  # deployments' entrypoints are paths relative to the project
    yield sqlite_url
    reset_runtimes()


def test_deployment_names_say_what_runs() -> None:
    names = [(d.flow_name, d.name) for d in build_deployments(timedelta(minutes=5))]
    assert names == [
        ("launch-wave", "launch-a-wave"),
        ("tick-active-waves", "every-5-minutes"),
        ("wave-tick", "tick-one-wave"),
        ("control-wave", "control-a-wave"),
        ("apply-retention", "daily"),
    ]


def test_launcher_form_runs_a_wave_on_a_served_deployment(
    served_env: str, clock: FixedClock
) -> None:
    engine = make_engine(served_env)
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "served")
        factories.record(
            s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=800)
        )
    config = factories.wave_config(name="Served wave", dry_run=True)

    deployments = build_deployments(timedelta(minutes=5))  # sync: to_deployment is sync-compatible

    async def scenario() -> tuple[str, list[str]]:
        runner = Runner(name="reconsent-test", query_seconds=1)
        for deployment in deployments:
            await runner.aadd_deployment(deployment)
        # Our own client, closed on exit: without one, arun_deployment makes a client it
        # never closes, and its connection to the API leaks (an unclosed socket).
        async with get_client() as client:
            flow_run = await arun_deployment(
                "launch-wave/launch-a-wave",
                client=client,
                parameters={"config": config.model_dump(mode="json")},
                timeout=0,
            )
            await asyncio.wait_for(runner.start(run_once=True), timeout=240)
            run = await client.read_flow_run(flow_run.id)
            artifacts = await client.read_artifacts()
            children = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
            )
        assert children and run.state is not None
        return run.state.type.value, [a.key for a in artifacts if a.key]

    state, keys = asyncio.run(scenario())
    assert state == "COMPLETED"
    with unit_of_work(engine) as s:
        wave = s.scalars(select(Wave).where(Wave.name == "Served wave")).one()
        wave_id = wave.id
        assert wave.plan_summary and wave.plan_summary["eligible_total"] == 1
    assert artifact_key(wave_id, "Served wave", served_env, "report") in keys
    assert artifact_key(wave_id, "Served wave", served_env, "steps") in keys
    engine.dispose()
    assert os.environ["RECONSENT_DATABASE_URL"] == served_env


def test_deploy_on_a_work_pool_registers_every_deployment_for_workers(
    prefect_harness: None,
) -> None:
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.work_pool import PROJECT, register_on_pool

    first = register_on_pool("reconsent-test-pool", timedelta(minutes=5))
    again = register_on_pool("reconsent-test-pool", timedelta(minutes=5))  # idempotent
    assert (
        [name for name, _ in first]
        == [name for name, _ in again]
        == [
            "launch-wave/launch-a-wave",
            "tick-active-waves/every-5-minutes",
            "wave-tick/tick-one-wave",
            "control-wave/control-a-wave",
            "apply-retention/daily",
        ]
    )
    assert [i for _, i in first] == [i for _, i in again]  # updated, not duplicated

    async def registered() -> tuple[str, list[tuple[str | None, str | None, Any]]]:
        async with get_client() as client:
            pool = await client.read_work_pool("reconsent-test-pool")
            found = [await client.read_deployment(i) for _, i in first]
        return pool.type, [
            (
                d.work_pool_name,
                d.entrypoint,
                d.global_concurrency_limit and d.global_concurrency_limit.limit,
            )
            for d in found
        ]

    pool_type, deployments = asyncio.run(registered())
    assert pool_type == "process"
    assert {pool for pool, _, _ in deployments} == {"reconsent-test-pool"}
    assert deployments[2][1] == "flows/wave_tick.py:wave_tick"
    assert deployments[1][2] == 1  # one sweep at a time
    assert (PROJECT / "flows" / "wave_tick.py").exists()
