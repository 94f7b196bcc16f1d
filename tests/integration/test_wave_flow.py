"""The wave tick as a real Prefect flow run, on SQLite and PostgreSQL, through the file outbox."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import Engine, func, select

from models import SendAttempt, Wave, WaveRequest
from reconsent.campaigns.wave_artifacts import artifact_key
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState, RequestStatus, SuppressionReason, WaveStatus
from tests.support import factories

pytestmark = pytest.mark.prefect


def _seed(engine: Engine, clock: FixedClock) -> tuple[int, dict[str, int]]:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        ids = {}
        for name in ("stale1", "stale2", "refuser", "objector"):
            c = factories.add_contact(s, now, name, email=f"{name}@example.com")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=900))
            ids[name] = c.id
        refuser = s.get_one(__import__("models").Contact, ids["refuser"])
        for code in ("marketing_email", "marketing_sms", "marketing_phone"):  # refused them all
            factories.record(
                s, now, refuser, p[code], ConsentState.REFUSED, now - timedelta(days=2)
            )
        from models import Suppression

        s.add(
            Suppression(
                contact_id=ids["objector"],
                channel=None,
                reason=SuppressionReason.OBJECTION,
                source="test",
                created_at=now,
            )
        )
        # stale1 again, under another CRM id: one person, asked once.
        twin = factories.add_contact(s, now, "stale1-hub", email="stale1@example.com")
        factories.consent_to_channels(s, now, twin, p, now - timedelta(days=900))
        wave = factories.add_wave(s, now)
        return wave.id, ids


def test_tick_twice_sends_nothing_twice_and_never_reaches_the_excluded(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    wave_id, ids = _seed(engine, clock)
    first = wave_tick(wave_id, clock.now())
    second = wave_tick(wave_id, clock.now())
    assert first["activity"]["sent"] == {"email": 2}
    assert second["activity"].get("sent", {}) == {}
    entries = [json.loads(line) for line in (flow_env / "index.jsonl").read_text().splitlines()]
    assert len(entries) == 2 and {e["channel"] for e in entries} == {"email"}
    eml = "".join(p.read_text() for p in (flow_env / "email").glob("*.eml"))
    assert "refuser@example.com" not in eml and "objector@example.com" not in eml
    assert first["plan"]["excluded"] == {"refused": 1, "objected": 1, "duplicate_person": 1}
    with unit_of_work(engine) as s:
        contacts = set(s.scalars(select(WaveRequest.contact_id)))
        assert contacts == {ids["stale1"], ids["stale2"]}
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == 2


def test_unanswered_wave_ends_expired_and_completed(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    wave_id, _ = _seed(engine, clock)
    wave_tick(wave_id, clock.now())  # email
    clock.advance(timedelta(days=3))
    wave_tick(wave_id, clock.now())  # sms (Friday 4 Dec)
    clock.advance(timedelta(days=2))
    wave_tick(wave_id, clock.now())  # Sunday: no call
    clock.advance(timedelta(days=1, hours=1))
    wave_tick(wave_id, clock.now())  # Monday: ivr
    clock.advance(timedelta(days=2))
    result = wave_tick(wave_id, clock.now())
    assert result["funnel"]["requests"]["expired"] == 2
    assert result["funnel"]["channels"]["ivr"]["sent"] == 2
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, wave_id).status is WaveStatus.COMPLETED
        assert set(s.scalars(select(WaveRequest.status))) == {RequestStatus.EXPIRED}


async def _artifacts() -> dict[str, object]:
    async with get_client() as client:
        artifacts = await client.read_artifacts()
    return {a.key: a.data for a in artifacts if a.key}


async def _runs_and_progress() -> tuple[set[str], dict[str, object]]:
    async with get_client() as client:
        runs = await client.read_flow_runs()
        artifacts = await client.read_artifacts()
    progress = {str(a.flow_run_id): a.data for a in artifacts if a.type == "progress"}
    return {r.name for r in runs}, {r.name: progress.get(str(r.id)) for r in runs}


def test_tick_publishes_aggregate_artifacts(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    import asyncio

    from flows.wave_tick import wave_tick

    wave_id, _ = _seed(engine, clock)
    wave_tick(wave_id, clock.now())
    artifacts = asyncio.run(_artifacts())
    # Keyed by the wave and this test's database: other tests' "Test wave" 1 keep theirs.
    url = os.environ["RECONSENT_DATABASE_URL"]
    assert artifact_key(wave_id, "Test wave", url, "steps") in artifacts
    report = str(artifacts[artifact_key(wave_id, "Test wave", url, "report")])
    assert "| duplicate_person | 1 |" in report and "| sent | email | 2 |" in report
    assert "| step | channel | locale |" in report and "{" not in report  # no Python dicts
    names, progress = asyncio.run(_runs_and_progress())
    run_name = artifact_key(wave_id, "Test wave", url, "tick")  # the wave and the database
    assert run_name in names and progress[run_name] == 100.0  # every batch done


@pytest.mark.parametrize("approve", [True, False])
def test_approval_gate_holds_the_first_send_and_never_waits(
    flow_env: Path, engine: Engine, clock: FixedClock, approve: bool
) -> None:
    from flows.wave_control import control_wave_flow
    from flows.wave_tick import wave_tick
    from reconsent.kernel.vocab import WaveAction

    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "approve-me")
        factories.record(
            s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=900)
        )
        wave_id = factories.add_wave(s, now, require_approval=True).id
    waiting = wave_tick(wave_id, now)  # returns at once: no paused run to answer
    assert waiting["activity"] == {} and waiting["plan"]["awaiting_approval"] is True
    assert wave_tick(wave_id, now)["activity"] == {}  # a second tick: still nothing
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, wave_id).status is WaveStatus.AWAITING_APPROVAL
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == 0
    action = WaveAction.APPROVE if approve else WaveAction.DECLINE
    control_wave_flow(wave_id, action, by="Maria (marketing ops)", note="ok")
    result = wave_tick(wave_id, now)
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, wave_id)
        sent = s.scalar(select(func.count()).select_from(SendAttempt))
        assert wave.plan_summary is not None
        assert wave.plan_summary["approval"]["by"] == "Maria (marketing ops)"
    if approve:
        assert wave.status is WaveStatus.RUNNING and sent == 1
        assert result["activity"]["sent"] == {"email": 1}
    else:
        assert wave.status is WaveStatus.CANCELLED and sent == 0


def test_sweep_ticks_every_open_wave(flow_env: Path, engine: Engine, clock: FixedClock) -> None:
    from flows.sweep import tick_active_waves

    _seed(engine, clock)
    with unit_of_work(engine) as s:
        factories.add_wave(s, clock.now(), name="Second wave", dry_run=True)
    result = tick_active_waves()
    assert set(result["waves"]) == {"1", "2"}
    assert result["renewals"]["sent"] == {}
    with unit_of_work(engine) as s:
        statuses = {w.name: w.status for w in s.scalars(select(Wave))}
    assert statuses == {"Test wave": WaveStatus.RUNNING, "Second wave": WaveStatus.PLANNED}
