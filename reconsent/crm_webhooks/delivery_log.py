"""What the CRM webhook deliveries did, and sending some again (``replay``).

A listing shows ids, types, states, tries and the last answer; never the body
(it holds no personal data either, only ids: see the README's CRM webhooks).
A replay puts a delivery back to PENDING, due now, with its tries reset and
the same ``webhook-id`` (a receiver that had it dedupes it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import CrmWebhookDelivery, CrmWebhookEndpoint
from reconsent.kernel.crm_events import DeliveryState, EndpointState
from reconsent.kernel.errors import ConfigError, NotFoundError

__all__ = ["delivery_rows", "replay"]


def delivery_rows(
    session: Session,
    *,
    endpoint_id: int | None = None,
    state: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The latest deliveries (newest first), optionally of one endpoint or in one state."""
    d = CrmWebhookDelivery
    query = select(
        d.id,
        d.webhook_id,
        d.endpoint_id,
        d.event_type,
        d.state,
        d.attempts,
        d.next_attempt_at,
        d.last_status,
        d.last_error,
        d.created_at,
        d.delivered_at,
    ).order_by(d.id.desc())
    if endpoint_id is not None:
        query = query.where(d.endpoint_id == endpoint_id)
    if state is not None:
        try:
            query = query.where(d.state == DeliveryState(state))
        except ValueError:
            names = ", ".join(s.value for s in DeliveryState)
            raise ConfigError(f"unknown delivery state {state!r} ({names})") from None
    return [
        {
            "id": r.id,
            "webhook_id": r.webhook_id,
            "endpoint_id": r.endpoint_id,
            "event_type": r.event_type,
            "state": r.state.value,
            "attempts": r.attempts,
            "next_attempt_at": r.next_attempt_at.isoformat()
            if r.state in (DeliveryState.PENDING, DeliveryState.DELIVERING)
            else None,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
            "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None,
        }
        for r in session.execute(query.limit(limit))
    ]


def replay(
    session: Session,
    now: datetime,
    *,
    delivery_id: int | None = None,
    since: datetime | None = None,
    endpoint_id: int | None = None,
) -> int:
    """Queue again one delivery, or every delivery written since ``since`` (of one
    endpoint, if given) that is not in flight; removed endpoints' stay as they are.
    Returns how many were queued."""
    if (delivery_id is None) == (since is None):
        raise ConfigError("replay one DELIVERY_ID, or every delivery --since a time")
    d = CrmWebhookDelivery
    live = select(CrmWebhookEndpoint.id).where(CrmWebhookEndpoint.state != EndpointState.REMOVED)
    query = update(d).where(d.state != DeliveryState.DELIVERING, d.endpoint_id.in_(live))
    if delivery_id is not None:
        if session.get(d, delivery_id) is None:
            raise NotFoundError(f"webhook delivery {delivery_id} does not exist")
        query = query.where(d.id == delivery_id)
    else:
        query = query.where(d.created_at >= since)
        if endpoint_id is not None:
            query = query.where(d.endpoint_id == endpoint_id)
    result = session.execute(
        query.values(
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            first_attempt_at=None,
            claim_token=None,
            last_error=None,
        ).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult
