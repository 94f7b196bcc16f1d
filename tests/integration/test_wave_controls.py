"""An operator's controls over a wave, through real Prefect flow runs and the outbox, on
SQLite and PostgreSQL: pause, resume, cancel, approve, edit, promote, clone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from models import SendAttempt, Wave, WaveRequest
from reconsent.campaigns.wave_controls import clone_wave, control_wave, wave_history
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError, WaveStateError
from reconsent.kernel.vocab import RequestStatus, WaveAction, WaveStatus
from tests.support import factories

pytestmark = pytest.mark.prefect
BY = "Maria (marketing ops)"


def _wave(engine: Engine, now: datetime, people: int = 3, **config: object) -> int:
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for n in range(people):
            c = factories.add_contact(s, now, f"person-{n}")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=900))
        return factories.add_wave(s, now, **config).id


def _sent(outbox: Path) -> list[dict[str, object]]:
    index = outbox / "index.jsonl"
    if not index.exists():
        return []
    return [json.loads(line) for line in index.read_text().splitlines()]


def _control(
    engine: Engine, wave_id: int, action: WaveAction, now: datetime, **kw: Any
) -> dict[str, Any]:
    with unit_of_work(engine) as s:
        return dict(control_wave(s, wave_id, action, actor=BY, now=now, **kw).details)


def test_a_paused_wave_sends_nothing_on_any_tick_and_resume_goes_on_where_it_was(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    now = clock.now()
    wave_id = _wave(engine, now)
    assert wave_tick(wave_id, now)["activity"]["sent"] == {"email": 3}
    assert _control(engine, wave_id, WaveAction.PAUSE, now) == {"from": "running", "to": "paused"}
    # a Friday at 12:00 in Rome: the e-mail step's 3 days are over, the SMS is due
    later = now + timedelta(days=3, hours=1)
    for hour in range(3):
        assert wave_tick(wave_id, later + timedelta(hours=hour))["activity"] == {}
    assert len(_sent(flow_env)) == 3
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, wave_id).status is WaveStatus.PAUSED
    _control(engine, wave_id, WaveAction.RESUME, later, note="budget confirmed")
    resumed = wave_tick(wave_id, later + timedelta(hours=3))
    assert resumed["activity"]["sent"] == {"sms": 3}  # the next step, once each
    assert [e["channel"] for e in _sent(flow_env)].count("sms") == 3
    with unit_of_work(engine) as s:
        history = wave_history(s, wave_id)
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("pause", "running", "paused"),
        ("resume", "paused", "running"),
    ]
    assert history[1]["note"] == "budget confirmed" and history[1]["by"] == BY


def test_a_draft_paused_before_its_first_tick_is_not_even_planned(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    now = clock.now()
    wave_id = _wave(engine, now)
    _control(engine, wave_id, WaveAction.PAUSE, now)
    assert wave_tick(wave_id, now)["activity"] == {}
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(WaveRequest)) == 0
    assert _control(engine, wave_id, WaveAction.RESUME, now)["to"] == "draft"
    assert wave_tick(wave_id, now)["activity"]["sent"] == {"email": 3}


def test_cancel_closes_every_open_request_and_later_ticks_do_nothing(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    now = clock.now()
    wave_id = _wave(engine, now)
    wave_tick(wave_id, now)
    details = _control(engine, wave_id, WaveAction.CANCEL, now, note="wrong list")
    assert details["requests_closed"] == 3 and details["to"] == "cancelled"
    with unit_of_work(engine) as s:
        reasons = s.execute(select(WaveRequest.status, WaveRequest.close_reason)).all()
        assert set(reasons) == {(RequestStatus.CANCELLED, "wave_cancelled")}
    for day in range(1, 8):
        assert wave_tick(wave_id, now + timedelta(days=day))["activity"] == {}
    assert len(_sent(flow_env)) == 3
    with unit_of_work(engine) as s, pytest.raises(WaveStateError, match="cancelled"):
        control_wave(s, wave_id, WaveAction.RESUME, actor=BY, now=now)


def test_an_approval_waiting_in_the_ui_does_not_delay_another_waves_sweep(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.sweep import tick_active_waves

    now = clock.now()
    waiting = _wave(engine, now, people=2, require_approval=True)
    with unit_of_work(engine) as s:
        other = factories.add_wave(s, now, name="Other wave").id
    first = tick_active_waves()  # returns: no paused run waits for the approver
    assert first["waves"][str(other)]["active"] == 2
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, waiting).status is WaveStatus.AWAITING_APPROVAL
        per_wave = dict(
            s.execute(select(WaveRequest.wave_id, func.count()).group_by(WaveRequest.wave_id)).all()
        )
    assert per_wave == {other: 2}
    second = tick_active_waves()  # skipped by the sweep until it is decided
    assert str(waiting) not in second["waves"]
    _control(engine, waiting, WaveAction.APPROVE, now, note="audience checked")
    with unit_of_work(engine) as s, pytest.raises(WaveStateError, match="decided already"):
        # a later answer (a stale page, a second approver) cannot rewrite the first
        control_wave(s, waiting, WaveAction.DECLINE, actor="someone else", now=now)
    third = tick_active_waves()
    assert str(waiting) in third["waves"]
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, waiting)
        assert wave.status is WaveStatus.RUNNING
        assert wave.plan_summary is not None and wave.plan_summary["approval"]["by"] == BY
        history = wave_history(s, waiting)
    assert [h["action"] for h in history] == ["approve"]
    assert history[0]["at"] == now.isoformat()  # the decision's time, not a tick's


def test_edit_changes_caps_and_waits_with_the_old_values_in_the_audit(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    wave_id = _wave(engine, now, people=1)
    changes = {"steps.0.wait": "5d", "daily_cap.email": 500, "link_lifetime": "7d"}
    details = _control(engine, wave_id, WaveAction.EDIT, now, changes=changes)
    assert details["changes"] == {
        "steps.0.wait": {"old": "3d", "new": "5d"},
        "daily_cap.email": {"old": None, "new": 500},
        "link_lifetime": {"old": "14d", "new": "7d"},
    }
    with unit_of_work(engine) as s:
        config = s.get_one(Wave, wave_id).config
    assert config["steps"][0]["wait"] == "5d" and config["daily_cap"] == {"email": 500}
    for bad, problem in (
        ({"purposes": ["marketing_email"]}, "cannot be edited"),
        ({"steps.0.channel": "sms"}, "cannot be edited"),
        ({"link_lifetime": "0s"}, "link_lifetime"),
        ({"steps.0.wait": "100d"}, "out of range"),
    ):
        with unit_of_work(engine) as s, pytest.raises(ConfigError, match=problem):
            control_wave(s, wave_id, WaveAction.EDIT, actor=BY, now=now, changes=bad)
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, wave_id).config == config  # a refused edit changes nothing


def test_a_promoted_dry_run_sends_and_a_clone_starts_as_a_draft(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.wave_tick import wave_tick

    now = clock.now()
    wave_id = _wave(engine, now, people=2, dry_run=True)
    assert wave_tick(wave_id, now)["activity"] == {}
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, wave_id).status is WaveStatus.PLANNED
        copy_id = clone_wave(s, wave_id, now=now).id
        copy = s.get_one(Wave, copy_id)
        assert copy.status is WaveStatus.DRAFT and copy.name == "Test wave (copy)"
    assert _control(engine, wave_id, WaveAction.PROMOTE, now)["to"] == "draft"
    assert wave_tick(wave_id, now)["activity"]["sent"] == {"email": 2}
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == 2


def test_a_sweep_skips_a_wave_another_sweep_is_ticking_and_the_next_sweep_takes_it(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.sweep import tick_active_waves
    from flows.wave_slots import wave_slot

    now = clock.now()
    busy = _wave(engine, now, people=2)
    with unit_of_work(engine) as s:
        other = factories.add_wave(s, now, name="Other wave").id
    with wave_slot(busy) as mine:  # another sweep (another worker) is ticking it
        assert mine
        first = tick_active_waves()
    assert first["busy"] == [busy] and str(busy) not in first["waves"]
    assert first["waves"][str(other)]["active"] == 2  # the others go on
    with unit_of_work(engine) as s:
        assert s.get_one(Wave, busy).status is WaveStatus.DRAFT  # not even planned
    second = tick_active_waves()  # the slot is free again
    assert second["busy"] == [] and second["waves"][str(busy)]["active"] == 2
