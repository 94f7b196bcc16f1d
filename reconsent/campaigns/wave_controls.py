"""An operator's controls over a wave: pause, resume, cancel, approve or decline the
audience, edit waits and caps, promote a dry run, clone. From the CLI and from the
``control-wave`` deployment's form in the Prefect UI; each one is an entry of the
wave's audit (``wave_events``) with who, the decision's own time, and what changed.

The wave row is locked while it changes (``FOR UPDATE`` on PostgreSQL, the write lock
on SQLite), so two answers to one approval cannot both win: the second one finds the
wave decided and is refused (:mod:`reconsent.kernel.rules.wave_lifecycle`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Wave, WaveEvent, WaveRequest
from reconsent.campaigns.waves import create_wave, lock_wave, wave_config
from reconsent.kernel.errors import ConfigError, NotFoundError
from reconsent.kernel.rules.wave_lifecycle import after
from reconsent.kernel.vocab import RequestStatus, WaveAction, WaveStatus
from reconsent.kernel.waveconfig import WaveConfig, parse_wave_config

__all__ = ["EDITABLE", "clone_wave", "control_wave", "wave_history"]

#: What may change on a wave that has started: when to move on, how much to send, how
#: long a link opens, and when a channel may reach people. Who is asked and what they
#: are told (purposes, notice, steps' channels, basis) never change: clone instead.
EDITABLE = ("steps.N.wait", "daily_cap.CHANNEL", "frequency_cap", "link_lifetime", "quiet_hours")
#: Why a cancelled wave's open requests were closed.
CANCELLED_REASON = "wave_cancelled"


def _paused_from(session: Session, wave_id: int) -> WaveStatus | None:
    details = session.scalar(
        select(WaveEvent.details)
        .where(WaveEvent.wave_id == wave_id, WaveEvent.action == WaveAction.PAUSE)
        .order_by(WaveEvent.id.desc())
        .limit(1)
    )
    return WaveStatus(details["from"]) if details else None


def control_wave(
    session: Session,
    wave_id: int,
    action: WaveAction,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    changes: dict[str, Any] | None = None,
) -> WaveEvent:
    """Do ``action`` to the wave (``changes``: an edit's values by dotted path, e.g.
    ``{"steps.0.wait": "3d", "daily_cap.sms": 500}``); returns the audit entry."""
    if not actor.strip():
        raise ConfigError("say who decides (--by): it is kept in the wave's audit")
    wave = lock_wave(session, wave_id)
    before = wave.status
    status = after(action, before, _paused_from(session, wave_id))
    details: dict[str, Any] = {"from": before.value, "to": status.value}
    if note:
        details["note"] = note[:1000]
    if action is WaveAction.EDIT:
        details["changes"] = _edit(wave, changes or {})
    elif action is WaveAction.PROMOTE:
        config = wave_config(wave).model_copy(update={"dry_run": False})
        wave.config = config.model_dump(mode="json")
        wave.planned_at = None
    elif action in (WaveAction.CANCEL, WaveAction.DECLINE):
        details["requests_closed"] = _close_open_requests(session, wave_id, now)
        wave.completed_at = now
    if action in (WaveAction.APPROVE, WaveAction.DECLINE):
        summary = dict(wave.plan_summary or {})
        summary["approval"] = {
            "approved": action is WaveAction.APPROVE,
            "by": actor[:200],
            "note": note[:1000],
            "at": now.isoformat(),
        }
        summary["awaiting_approval"] = False
        wave.plan_summary = summary
    wave.status = status
    event = WaveEvent(wave_id=wave_id, action=action, at=now, actor=actor[:200], details=details)
    session.add(event)
    session.flush()
    return event


def _close_open_requests(session: Session, wave_id: int, now: datetime) -> int:
    result = session.execute(
        update(WaveRequest)
        .where(WaveRequest.wave_id == wave_id, WaveRequest.status == RequestStatus.ACTIVE)
        .values(status=RequestStatus.CANCELLED, close_reason=CANCELLED_REASON, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _edit(wave: Wave, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Apply ``changes`` to the wave's configuration (validated as a whole, as a new
    file would be); returns ``{path: {"old": ..., "new": ...}}``."""
    if not changes:
        raise ConfigError(f"nothing to change: give one or more of {', '.join(EDITABLE)}")
    data = wave_config(wave).model_dump(mode="json")
    done: dict[str, dict[str, Any]] = {}
    for path, value in changes.items():
        parts = path.split(".")
        if not _editable(parts, data):
            raise ConfigError(f"{path} cannot be edited; editable: {', '.join(EDITABLE)}")
        holder: Any = data
        for part in parts[:-1]:
            holder = holder[int(part)] if isinstance(holder, list) else holder[part]
        old = holder.get(parts[-1]) if isinstance(holder, dict) else holder[int(parts[-1])]
        if isinstance(holder, dict):
            holder[parts[-1]] = value
        else:
            holder[int(parts[-1])] = value
        done[path] = {"old": old, "new": value}
    config: WaveConfig = parse_wave_config(data, source=f"wave {wave.id} edit")
    wave.config = config.model_dump(mode="json")
    return done


def _editable(parts: list[str], data: dict[str, Any]) -> bool:
    head = parts[0]
    if head == "steps":
        return (
            len(parts) == 3
            and parts[1].isdigit()
            and int(parts[1]) < len(data["steps"])
            and parts[2] == "wait"
        )
    if head in ("daily_cap", "quiet_hours"):
        return len(parts) == 2
    if head == "frequency_cap":
        return len(parts) <= 2
    return parts == ["link_lifetime"]


def clone_wave(session: Session, wave_id: int, *, now: datetime, name: str | None = None) -> Wave:
    """A new draft wave with the same configuration (``name``: default "<name> (copy)")."""
    source = session.get(Wave, wave_id)
    if source is None:
        raise NotFoundError(f"wave {wave_id} does not exist")
    config = wave_config(source)
    copy = config.model_copy(update={"name": name or f"{config.name} (copy)"[:200]})
    checked = parse_wave_config(copy.model_dump(mode="json"), source=f"clone of wave {wave_id}")
    return create_wave(session, checked, now)


def wave_history(session: Session, wave_id: int) -> list[dict[str, Any]]:
    """The wave's audit, oldest first."""
    if session.get(Wave, wave_id) is None:
        raise NotFoundError(f"wave {wave_id} does not exist")
    return [
        {
            "at": e.at.isoformat(),
            "action": e.action.value,
            "by": e.actor,
            **e.details,
        }
        for e in session.scalars(
            select(WaveEvent).where(WaveEvent.wave_id == wave_id).order_by(WaveEvent.id)
        )
    ]
