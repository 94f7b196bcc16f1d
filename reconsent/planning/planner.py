"""Planning a wave: who is asked, and why everybody else is not (the preflight).

The classification (reconsent.planning.classification) says per contact why they are or
are not asked; contacts sharing an address are then one person, asked once
(reconsent.planning.person_groups); planning counts that into the preflight and,
once, creates the eligible people's requests (reconsent.planning.request_creation),
all from one scratch table (reconsent.planning.scratch). Idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import Wave
from reconsent.campaigns.waves import lock_wave, wave_config
from reconsent.db import unit_of_work
from reconsent.eligibility.rpo_register import RPO_VALIDITY_DAYS, rpo_consulted
from reconsent.kernel.vocab import Channel, WaveStatus
from reconsent.kernel.waveconfig import WaveConfig
from reconsent.planning.classification import ELIGIBLE
from reconsent.planning.request_creation import create_requests
from reconsent.planning.scratch import classified, counts


@dataclass
class Preflight:
    wave_id: int
    eligible: dict[str, int] = field(default_factory=dict)  # per basis
    reachable: dict[str, int] = field(default_factory=dict)  # eligible people reachable per channel
    excluded: dict[str, int] = field(default_factory=dict)  # per exclusion reason
    #: Eligible people a channel cannot reach, per channel and why (the step is skipped).
    channel_skips: dict[str, dict[str, int]] = field(default_factory=dict)
    created: int = 0  # requests inserted by this planning run

    @property
    def eligible_total(self) -> int:
        return sum(self.eligible.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "wave_id": self.wave_id,
            "eligible_total": self.eligible_total,
            "eligible": self.eligible,
            "reachable": self.reachable,
            "excluded": self.excluded,
            "channel_skips": self.channel_skips,
            "created": self.created,
        }


def preflight(
    session: Session, wave: Wave, now: datetime, *, rpo_validity_days: int = RPO_VALIDITY_DAYS
) -> Preflight:
    """Counts only: who would be asked, reachable per channel, and excluded per reason."""
    with classified(session, wave, now, rpo_consulted(session, now, rpo_validity_days)) as rows:
        return _fold(wave, counts(session, rows))


def _fold(wave: Wave, rows: Iterable[Any]) -> Preflight:
    """The preflight from classified rows grouped as ``(reason, basis, block_email,
    block_sms, block_ivr, count)``."""
    config: WaveConfig = wave_config(wave)
    report = Preflight(wave_id=wave.id)
    for reason, basis, *channel_blocks, count in rows:
        n = int(count)
        if reason != ELIGIBLE:
            report.excluded[reason] = report.excluded.get(reason, 0) + n
            continue
        report.eligible[basis] = report.eligible.get(basis, 0) + n
        for channel, why in zip(Channel, channel_blocks, strict=True):
            if channel not in config.channels:
                continue
            if why is None:
                report.reachable[channel.value] = report.reachable.get(channel.value, 0) + n
            else:
                skipped = report.channel_skips.setdefault(channel.value, {})
                skipped[why] = skipped.get(why, 0) + n
    return report


def awaits_approval(wave: Wave) -> bool:
    """A draft that sends only once a person approved its audience (never a dry run)."""
    config = wave_config(wave)
    approval = (wave.plan_summary or {}).get("approval")
    approved = bool(approval and approval.get("approved"))
    return (
        wave.status is WaveStatus.DRAFT
        and config.require_approval
        and not config.dry_run
        and not approved
    )


def plan_wave(
    session: Session, wave: Wave, now: datetime, *, rpo_validity_days: int = RPO_VALIDITY_DAYS
) -> Preflight:
    """Create the wave's requests (once) and store the preflight on the wave.

    A wave that requires approval is left ``awaiting_approval`` (nothing created) until
    a person approves it (:func:`reconsent.campaigns.wave_controls.control_wave`), which
    makes it a draft again: the next tick creates its requests.
    """
    config = wave_config(wave)
    approval = (wave.plan_summary or {}).get("approval")
    awaiting = awaits_approval(wave)
    if wave.status is WaveStatus.DRAFT and not config.dry_run and not awaiting:
        with classified(session, wave, now, rpo_consulted(session, now, rpo_validity_days)) as rows:
            report = _fold(wave, counts(session, rows))
            report.created = create_requests(session, wave, now, rows)
        wave.status = WaveStatus.RUNNING
        wave.planned_at = now
    else:
        report = preflight(session, wave, now, rpo_validity_days=rpo_validity_days)
        if wave.status is WaveStatus.DRAFT and config.dry_run:
            wave.status = WaveStatus.PLANNED  # dry run: planned, never sent
            wave.planned_at = now
    summary = report.as_dict()
    summary["awaiting_approval"] = awaiting
    if summary["awaiting_approval"]:
        wave.status = WaveStatus.AWAITING_APPROVAL
    if approval:
        summary["approval"] = approval
    wave.plan_summary = summary
    return report


def plan_once(
    engine: Engine, wave_id: int, now: datetime, *, rpo_validity_days: int = RPO_VALIDITY_DAYS
) -> dict[str, Any]:
    """The first tick's planning, claimed once: the wave is locked first, so of two ticks
    that start together one plans and the other finds it planned (no duplicate
    requests, no unique-constraint failure). Returns the wave's plan summary."""
    with unit_of_work(engine) as session:
        wave = lock_wave(session, wave_id)
        if wave.status is WaveStatus.DRAFT:
            plan_wave(session, wave, now, rpo_validity_days=rpo_validity_days)
        return dict(wave.plan_summary or {})
