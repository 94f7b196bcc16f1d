"""Controlling a wave from the Prefect UI: the ``control-wave`` deployment's form (the
wave's id, the action, who decides, a note; an edit's changes) does what the CLI's
``reconsent wave pause|resume|cancel|approve|decline|edit|promote`` does, with the
decision's own time in the wave's audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from pydantic import Field

from reconsent.campaigns.wave_controls import control_wave
from reconsent.db import unit_of_work
from reconsent.kernel.vocab import WaveAction
from reconsent.wiring import get_runtime


@flow(name="control-wave", flow_run_name="wave-{wave_id}-{action}", log_prints=False)
def control_wave_flow(
    wave_id: int,
    action: WaveAction,
    by: Annotated[str, Field(min_length=1, max_length=200, description="Who decides.")],
    note: Annotated[str, Field(max_length=1000, description="Why (kept in the audit).")] = "",
    changes: Annotated[
        dict[str, Any] | None,
        Field(
            description='An edit\'s values by path: {"steps.0.wait": "3d", "daily_cap.sms": 500}'
        ),
    ] = None,
) -> dict[str, Any]:
    """Pause, resume, cancel, approve or decline the audience, edit or promote a wave."""
    with unit_of_work(get_runtime().engine) as session:
        event = control_wave(
            session,
            wave_id,
            action,
            actor=by,
            now=datetime.now(UTC),
            note=note,
            changes=changes,
        )
        done = {"wave_id": wave_id, "action": action.value, **event.details}
    get_run_logger().info("wave %s: %s (%s -> %s)", wave_id, action.value, done["from"], done["to"])
    return done
