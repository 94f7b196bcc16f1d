"""The wave tick as a real Prefect flow run, on SQLite and PostgreSQL, through the file outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import Engine, func, select

from models import SendAttempt, Wave, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState, RequestStatus, SuppressionReason, WaveStatus
from reconsent.wiring import reset_runtimes
from tests.support import factories

pytestmark = pytest.mark.prefect


@pytest.fixture
def flow_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    outbox = tmp_path / "outbox"
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_OUTBOX_DIR": str(outbox),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "flow-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_PORTAL_BASE_URL": "http://portal.test",
    }.items():
        monkeypatch.setenv(name, value)
    yield outbox
    reset_runtimes()


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


def test_tick_publishes_aggregate_artifacts(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    import asyncio

    from flows.wave_tick import wave_tick

    wave_id, _ = _seed(engine, clock)
    wave_tick(wave_id, clock.now())
    artifacts = asyncio.run(_artifacts())
    assert f"wave-{wave_id}-funnel" in artifacts
    assert "| duplicate_person | 1 |" in str(artifacts[f"wave-{wave_id}-preflight"])


def _resume_when_paused(approve: bool) -> None:
    """Act as the person in the Prefect UI: wait for the paused run, answer the form."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    async def paused_run() -> UUID:
        async with get_client() as client:
            for _ in range(600):
                runs = await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        )
                    )
                )
                if runs:
                    return runs[0].id
                await asyncio.sleep(0.1)  # polling the API for a state change, bounded
        raise AssertionError("the tick never paused for approval")

    import asyncio

    run_id = asyncio.run(paused_run())
    resume_flow_run(
        run_id, run_input={"approve": approve, "approver": "Maria (marketing ops)", "note": "ok"}
    )


@pytest.mark.parametrize("approve", [True, False])
def test_approval_gate_holds_the_first_send(
    flow_env: Path, engine: Engine, clock: FixedClock, approve: bool
) -> None:
    import threading

    from flows.wave_tick import wave_tick

    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "approve-me")
        factories.record(
            s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=900)
        )
        wave_id = factories.add_wave(s, now, require_approval=True).id
    person = threading.Thread(target=_resume_when_paused, args=(approve,))
    person.start()
    result = wave_tick(wave_id, now)
    person.join(timeout=60)
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
