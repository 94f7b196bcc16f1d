"""A rights request's history: one ``rights_request_events`` row per step.

Steps name field names, dates, ids and reasons; never an old or a new address
(the history outlives an erasure).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import RightsRequest, RightsRequestEvent

__all__ = ["history_of", "log_step"]


def log_step(
    session: Session,
    row: RightsRequest,
    action: str,
    now: datetime,
    *,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
) -> RightsRequestEvent:
    """Add one step to ``row``'s history, in the caller's unit of work."""
    step = RightsRequestEvent(
        rights_request_id=row.id, at=now, action=action, actor=actor, details=dict(details or {})
    )
    session.add(step)
    return step


def history_of(session: Session, request_id: int) -> list[RightsRequestEvent]:
    """Every step of one request, in the order they happened."""
    return list(
        session.scalars(
            select(RightsRequestEvent)
            .where(RightsRequestEvent.rights_request_id == request_id)
            .order_by(RightsRequestEvent.id)
        )
    )
