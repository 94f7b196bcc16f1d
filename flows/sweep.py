"""The scheduled heartbeat: tick every wave that still has work (one subflow each)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, tags, task
from sqlalchemy import select

from flows.wave_slots import wave_slot
from flows.wave_tick import wave_tick
from models import Wave
from reconsent.campaigns.wave_artifacts import database_tag
from reconsent.crm_webhooks.delivery_worker import drain_with_settings
from reconsent.db import unit_of_work
from reconsent.kernel.clock import SystemClock
from reconsent.kernel.errors import CheckpointError
from reconsent.kernel.vocab import WaveStatus
from reconsent.ledger.checkpoints import take_daily_checkpoint
from reconsent.rights.notice_sending import send_notices
from reconsent.rights.renewals import send_link_renewals
from reconsent.wiring import get_runtime

ACTIVE = (WaveStatus.DRAFT, WaveStatus.RUNNING)


@task(name="find-active-waves")
def active_waves_task() -> list[int]:
    with unit_of_work(get_runtime().engine) as session:
        return list(
            session.scalars(select(Wave.id).where(Wave.status.in_(ACTIVE)).order_by(Wave.id))
        )


@task(name="send-link-renewals")
def link_renewals_task() -> dict[str, Any]:
    """Fresh links people asked for from an expired link's page (re-checked at send time)."""
    runtime = get_runtime()
    report = send_link_renewals(
        runtime.engine, runtime.settings, runtime.adapters, datetime.now(UTC)
    )
    return {
        "sent": dict(report.sent),
        "declined": dict(report.declined),
        "waiting": report.waiting,
        "retrying": report.retrying,
    }


@task(name="send-rights-notices")
def rights_notices_task() -> dict[str, Any]:
    """The answers to rights requests still to tell (a provider error left them pending)."""
    runtime = get_runtime()
    report = send_notices(
        runtime.engine, runtime.settings, runtime.adapters.__getitem__, datetime.now(UTC)
    )
    return {"sent": dict(report.sent), "failed": report.failed, "retrying": report.retrying}


@task(name="daily-ledger-checkpoint")
def ledger_checkpoint_task() -> str | None:
    """Once per UTC day, a signed checkpoint of the ledger into RECONSENT_CHECKPOINT_DIR
    (when it and RECONSENT_CHECKPOINT_SIGNING_KEY are set). Returns the statement's name."""
    runtime = get_runtime()
    cfg = runtime.settings
    if cfg.checkpoint_dir is None or cfg.checkpoint_signing_key is None:
        return None
    try:
        taken = take_daily_checkpoint(
            runtime.engine,
            cfg.checkpoint_dir,
            cfg.checkpoint_signing_key.get_secret_value(),
            datetime.now(UTC),
            cfg.controller_name,
        )
    except CheckpointError as exc:  # writers busy: the next sweep tries again
        get_run_logger().warning("no ledger checkpoint this time: %s", exc)
        return None
    return None if taken is None else taken.name


@task(name="deliver-crm-webhooks")
def crm_webhooks_task() -> dict[str, int]:
    """Send the CRM webhook deliveries that are due (none configured: one empty query)."""
    runtime = get_runtime()
    report = drain_with_settings(runtime.engine, runtime.settings, SystemClock())
    return {
        "delivered": report.delivered,
        "retrying": report.retrying,
        "failed": report.failed,
        "held": report.held,
    }


def _sweep_run_name() -> str:
    """``sweep-<database digest>-<UTC time>``: which database, and when."""
    tag = database_tag(get_runtime().settings.database_url)
    return f"sweep-{tag}-{datetime.now(UTC):%Y%m%d-%H%M}"


@flow(name="tick-active-waves", flow_run_name=_sweep_run_name, log_prints=False)
def tick_active_waves() -> dict[str, Any]:
    """Advance every draft or running wave (each wave's tick is its own flow run), send
    the fresh links people asked for, the rights notices still pending, the CRM webhooks
    that are due, and take the day's ledger checkpoint."""
    results: dict[str, Any] = {}
    busy: list[int] = []  # being ticked by another sweep: the next sweep takes them
    for wave_id in active_waves_task():
        with wave_slot(wave_id) as free:
            if not free:
                busy.append(wave_id)
                continue
            with tags(f"wave-{wave_id}"):
                results[str(wave_id)] = wave_tick(wave_id)["funnel"]["requests"]
    renewals = link_renewals_task()
    notices = rights_notices_task()
    crm = crm_webhooks_task()
    checkpoint = ledger_checkpoint_task()
    get_run_logger().info(
        "ticked %d wave(s) (%d busy); link renewals %s; rights notices %s; CRM webhooks %s; "
        "ledger checkpoint %s",
        len(results),
        len(busy),
        renewals,
        notices,
        crm,
        checkpoint or "none",
    )
    return {
        "waves": results,
        "busy": busy,
        "renewals": renewals,
        "rights_notices": notices,
        "crm_webhooks": crm,
        "checkpoint": checkpoint,
    }
