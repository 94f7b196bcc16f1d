"""The funnel of a wave: aggregate counts per channel and per status (no personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import SendAttempt, Wave, WaveRequest
from reconsent.campaigns.waves import wave_config
from reconsent.kernel.vocab import AttemptStatus, RequestStatus, WaveStatus


def wave_funnel(session: Session, wave: Wave) -> dict[str, Any]:
    config = wave_config(wave)
    statuses = {s.value: 0 for s in RequestStatus}
    for status, count in session.execute(
        select(WaveRequest.status, func.count())
        .where(WaveRequest.wave_id == wave.id)
        .group_by(WaveRequest.status)
    ):
        statuses[RequestStatus(status).value] = int(count)
    channels: dict[str, dict[str, int]] = {}
    for step in config.steps:
        channels.setdefault(
            step.channel.value,
            {
                "sent": 0,
                "unknown": 0,
                "failed": 0,
                "skipped": 0,
                "retrying": 0,
                "in_flight": 0,
                "confirmed": 0,
                "refused": 0,
            },
        )
    attempt_rows = session.execute(
        select(SendAttempt.channel, SendAttempt.status, func.count())
        .join(WaveRequest, WaveRequest.id == SendAttempt.request_id)
        .where(WaveRequest.wave_id == wave.id)
        .group_by(SendAttempt.channel, SendAttempt.status)
    )
    column = {
        AttemptStatus.SENT: "sent",
        # A lost outcome is never counted as sent: reconciled from the provider's
        # reports (reconsent.feedback.delivery_reports) or reported as unknown.
        AttemptStatus.UNKNOWN: "unknown",
        AttemptStatus.FAILED: "failed",
        AttemptStatus.SKIPPED: "skipped",
        AttemptStatus.RETRY: "retrying",
        AttemptStatus.CLAIMED: "in_flight",
        AttemptStatus.SENDING: "in_flight",
    }
    for attempt_channel, attempt_status, count in attempt_rows:
        row = channels.setdefault(attempt_channel.value, {})
        key = column[AttemptStatus(attempt_status)]
        row[key] = row.get(key, 0) + int(count)
    answered = session.execute(
        select(WaveRequest.answered_channel, WaveRequest.status, func.count())
        .where(WaveRequest.wave_id == wave.id, WaveRequest.answered_channel.is_not(None))
        .group_by(WaveRequest.answered_channel, WaveRequest.status)
    )
    for answered_channel, status, count in answered:
        if answered_channel is None:
            continue
        row = channels.setdefault(answered_channel.value, {})
        if status in (RequestStatus.CONFIRMED, RequestStatus.REFUSED):
            key = RequestStatus(status).value
            row[key] = row.get(key, 0) + int(count)
    return {
        "wave_id": wave.id,
        "name": wave.name,
        "status": wave.status.value,
        "requests": statuses,
        "channels": channels,
        "plan": wave.plan_summary or {},
    }


def complete_if_done(session: Session, wave: Wave, now: datetime) -> bool:
    """Mark a running wave completed once no request is open."""
    if wave.status is not WaveStatus.RUNNING:
        return False
    open_count = session.scalar(
        select(func.count()).where(
            WaveRequest.wave_id == wave.id, WaveRequest.status == RequestStatus.ACTIVE
        )
    )
    if open_count:
        return False
    wave.status = WaveStatus.COMPLETED
    wave.completed_at = now
    return True
