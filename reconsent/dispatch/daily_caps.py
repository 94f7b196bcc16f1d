"""A wave's daily cap per channel: at most N messages per channel per UTC day.

Requests over the cap wait for the next UTC midnight; the count covers every
attempt of the wave that went out or is going out today, so a restarted or
parallel tick cannot exceed it by more than one batch in flight elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import SendAttempt, WaveRequest
from reconsent.dispatch.batch_report import BatchReport
from reconsent.kernel.rules.escalation import StepSpec
from reconsent.kernel.vocab import AttemptStatus, Channel

T = TypeVar("T", bound=tuple[Any, ...])

_COUNTED = (AttemptStatus.CLAIMED, AttemptStatus.SENDING, AttemptStatus.SENT, AttemptStatus.UNKNOWN)


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def apply_daily_caps(
    session: Session,
    wave_id: int,
    caps: Mapping[Channel, int],
    sends: Sequence[T],
    steps: Sequence[StepSpec],
    now: datetime,
    report: BatchReport,
    postpone: Callable[[T, datetime], None],
) -> list[T]:
    """Keep the sends that fit today's caps; the others wait for tomorrow.

    ``sends`` items are tuples whose third element is the ``Decision``;
    ``postpone(item, tomorrow)`` records that an item waits.
    """
    if not caps or not sends:
        return list(sends)
    start, tomorrow = day_bounds(now)
    used = dict(
        session.execute(
            select(SendAttempt.channel, func.count())
            .join(WaveRequest, WaveRequest.id == SendAttempt.request_id)
            .where(
                WaveRequest.wave_id == wave_id,
                SendAttempt.claimed_at >= start,
                SendAttempt.status.in_(_COUNTED),
            )
            .group_by(SendAttempt.channel)
        ).all()
    )
    room = {channel: cap - int(used.get(channel, 0)) for channel, cap in caps.items()}
    kept: list[T] = []
    for item in sends:
        channel = steps[item[2].step_index].channel
        if channel in room:
            if room[channel] <= 0:
                postpone(item, tomorrow)
                report.waiting[f"daily_cap:{channel.value}"] += 1
                continue
            room[channel] -= 1
        kept.append(item)
    return kept
