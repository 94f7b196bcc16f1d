"""The wave tick: plan once, then advance every due request in batches.

The wave's state lives in the database, so running a tick again (or two at
once) is always safe: it only does what is due.  Tasks take a wave id and an
id range, never a list of contacts, and log and publish counts only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from sqlalchemy.exc import OperationalError

from flows.batch_fanout import advance_ranges, batch_runner
from reconsent.campaigns.funnel import complete_if_done, wave_funnel
from reconsent.campaigns.wave_artifacts import artifact_key, tick_markdown
from reconsent.campaigns.wave_report import wave_report
from reconsent.campaigns.waves import get_wave, wave_config
from reconsent.db import is_postgres, unit_of_work
from reconsent.kernel.clock import ensure_utc
from reconsent.kernel.rules.wave_lifecycle import SENDS_NOTHING
from reconsent.kernel.vocab import WaveStatus
from reconsent.planning.planner import plan_once
from reconsent.wiring import get_runtime


def _retry_on_database_hiccup(_task: Any, _run: TaskRun, state: State[Any]) -> bool:
    """Retry lock timeouts and dropped connections, never logic errors."""
    try:
        state.result()
    except OperationalError:
        return True
    except Exception:
        return False
    return False


@task(
    name="plan-wave",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_on_database_hiccup,
)
def plan_wave_task(wave_id: int, now: datetime) -> dict[str, Any]:
    runtime = get_runtime()
    return plan_once(
        runtime.engine, wave_id, now, rpo_validity_days=runtime.settings.rpo_validity_days
    )


@task(name="find-due-batches")
def due_batches_task(wave_id: int, now: datetime) -> list[tuple[int, int]]:
    runtime = get_runtime()
    return runtime.dispatcher.due_ranges(wave_id, now, runtime.settings.dispatch_batch_size)


@task(
    name="advance-batch",
    task_run_name="advance wave {wave_id} requests {lo}-{hi}",
    cache_policy=NO_CACHE,  # every run sends what is due now: a cached report sends nothing
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_on_database_hiccup,
)
def advance_batch_task(wave_id: int, lo: int, hi: int, now: datetime) -> dict[str, dict[str, int]]:
    return get_runtime().dispatcher.advance(wave_id, lo, hi, now).as_dict()


@task(name="summarise-wave")
def summarise_task(wave_id: int, now: datetime) -> dict[str, Any]:
    runtime = get_runtime()
    with unit_of_work(runtime.engine) as session:
        wave = get_wave(session, wave_id)
        complete_if_done(session, wave, now)
        return wave_funnel(session, wave)


def _tick_run_name() -> str:
    """``<name-slug>-w<id>-<database digest>-tick``: the UI names the wave, and two
    databases served by one Prefect server never share a run name."""
    from prefect.runtime import flow_run

    wave_id = int(flow_run.parameters["wave_id"])
    runtime = get_runtime()
    try:
        with unit_of_work(runtime.engine) as session:
            name = get_wave(session, wave_id).name
    except Exception:  # a wave that does not exist fails in the run, with its message
        return f"wave-{wave_id}-tick"
    return artifact_key(wave_id, name, runtime.settings.database_url, "tick")


@flow(name="wave-tick", flow_run_name=_tick_run_name, log_prints=False)
def wave_tick(wave_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Advance wave ``wave_id``: plan it if new, then send, escalate and expire what is due.

    ``now`` pins the clock (replays, the demo's virtual time); default: the current time.
    """
    logger = get_run_logger()
    at = ensure_utc(now) if now else datetime.now(UTC)
    plan = plan_wave_task(wave_id, at)
    with unit_of_work(get_runtime().engine) as session:
        wave = get_wave(session, wave_id)
        status, dry_run = wave.status, wave_config(wave).dry_run
    if status is WaveStatus.AWAITING_APPROVAL:
        # Never waits: the sweep goes on with the other waves; a person approves with
        # `reconsent wave approve` or the control-wave deployment, and the next tick sends.
        logger.info("wave %s: awaiting the approval of its audience", wave_id)
    elif status in SENDS_NOTHING:
        logger.info("wave %s is %s: nothing is sent", wave_id, status.value)
    activity: dict[str, dict[str, int]] = {}  # stays empty when no batch ran
    if not dry_run and status not in SENDS_NOTHING:
        activity = _advance_due(wave_id, at)
    funnel = summarise_task(wave_id, at)
    logger.info("wave %s: %s", wave_id, {k: sum(v.values()) for k, v in activity.items()})
    _publish(wave_id, plan, activity, dry_run)
    return {
        "wave_id": wave_id,
        "at": at.isoformat(),
        "plan": plan,
        "activity": activity,
        "funnel": funnel,
    }


def _advance_due(wave_id: int, at: datetime) -> dict[str, dict[str, int]]:
    """Every due batch of the wave as a submitted ``advance-batch`` task run (threads of
    this process, or Prefect task workers: ``flows/batch_fanout.py``), with a progress
    artifact; the merged report (empty when nothing was due)."""
    runtime = get_runtime()
    cfg = runtime.settings
    batches = due_batches_task(wave_id, at)
    if not batches:
        return {}
    # SQLite has one writer at a time: parallel batches there would only wait on its lock.
    window = cfg.tick_concurrency if is_postgres(runtime.engine) else 1
    runner, where = batch_runner(cfg.tick_batch_runner, window, advance_batch_task)
    get_run_logger().info("wave %s: %d batch(es) on %s", wave_id, len(batches), where)
    progress = create_progress_artifact(
        0.0, description=f"Wave {wave_id}: batches of this tick done (%)"
    )
    assert isinstance(progress, UUID)  # a sync flow: the call itself, not a coroutine

    def done(count: int) -> None:
        update_progress_artifact(progress, 100.0 * count / len(batches))

    report = advance_ranges(runner, advance_batch_task, wave_id, batches, at, window, done)
    return report.as_dict()


def _publish(
    wave_id: int, plan: dict[str, Any], activity: dict[str, dict[str, int]], dry_run: bool
) -> None:
    """Artifacts with aggregate counts only (they show in the Prefect UI)."""
    runtime = get_runtime()
    with unit_of_work(runtime.engine) as session:
        wave = get_wave(session, wave_id)
        report, name = wave_report(session, wave), wave.name
    url = runtime.settings.database_url
    create_table_artifact(
        key=artifact_key(wave_id, name, url, "steps"),
        table=report["steps"] or [{"step": "-", "sent": 0}],
        description=f"Wave {wave_id}: per step, channel and locale",
    )
    create_markdown_artifact(
        key=artifact_key(wave_id, name, url, "report"),
        markdown=tick_markdown(
            plan, activity, report, dry_run=dry_run, title=f"Wave {wave_id}: {_plain(name)}"
        ),
        description=f"Wave {wave_id}: preflight, this tick, report",
    )


def _plain(name: str) -> str:
    """A wave's name as markdown text (no markup of its own)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>-])", r"\\\1", name)
