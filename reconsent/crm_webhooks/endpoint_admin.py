"""The CRM's webhook endpoints: add, list, pause, resume, remove, rotate the secret.

A secret is returned once, by :func:`add_endpoint` and :func:`rotate_secret`,
and stored only sealed (:mod:`reconsent.crm_webhooks.secret_box`); a listing
shows its fingerprint, never the secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import CrmWebhookDelivery, CrmWebhookEndpoint
from reconsent.crm_outbox.outbox_writes import forget_subscriptions
from reconsent.crm_webhooks.secret_box import SecretBox, new_secret
from reconsent.kernel.crm_events import OPEN_STATES, DeliveryState, EndpointState, parse_patterns
from reconsent.kernel.errors import ConfigError, NotFoundError
from reconsent.kernel.rules.webhook_signing import secret_fingerprint

__all__ = [
    "add_endpoint",
    "check_url",
    "endpoint_rows",
    "remove_endpoint",
    "rotate_secret",
    "set_paused",
    "signing_secrets",
]

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_url(url: str) -> str:
    """An https URL (http only to this machine), with no user or password in it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("a webhook URL is https://host/path")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError("a webhook URL must be https (http only to localhost)")
    if parts.username or parts.password:
        raise ConfigError("a webhook URL carries no user or password (we sign every delivery)")
    return url.strip()


def add_endpoint(
    session: Session, url: str, events: str, box: SecretBox, now: datetime
) -> tuple[CrmWebhookEndpoint, str]:
    """A new enabled endpoint and its secret (shown to the operator once)."""
    try:
        patterns = parse_patterns(events)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    endpoint = CrmWebhookEndpoint(
        url=check_url(url),
        events=",".join(patterns),
        state=EndpointState.ENABLED,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    secret = new_secret()
    endpoint.secret_box = box.seal(endpoint.id, secret)
    endpoint.secret_fingerprint = secret_fingerprint(secret)
    session.flush()
    forget_subscriptions()
    return endpoint, secret


def _endpoint(session: Session, endpoint_id: int) -> CrmWebhookEndpoint:
    endpoint = session.get(CrmWebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.state is EndpointState.REMOVED:
        raise NotFoundError(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


def set_paused(
    session: Session, endpoint_id: int, *, paused: bool, now: datetime
) -> CrmWebhookEndpoint:
    """Pause (deliveries are still queued, none is sent) or resume an endpoint."""
    endpoint = _endpoint(session, endpoint_id)
    endpoint.state = EndpointState.DISABLED if paused else EndpointState.ENABLED
    endpoint.updated_at = now
    forget_subscriptions()
    return endpoint


def remove_endpoint(session: Session, endpoint_id: int, now: datetime) -> int:
    """Stop an endpoint for good: its secrets wiped, its unsent deliveries cancelled
    (the history stays). Returns how many deliveries were cancelled."""
    endpoint = _endpoint(session, endpoint_id)
    endpoint.state = EndpointState.REMOVED
    endpoint.secret_box = endpoint.previous_secret_box = None
    endpoint.previous_until = None
    endpoint.updated_at = now
    forget_subscriptions()
    d = CrmWebhookDelivery
    result = session.execute(
        update(d)
        .where(d.endpoint_id == endpoint_id, d.state.in_(OPEN_STATES))
        .values(state=DeliveryState.CANCELLED, claim_token=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult


def rotate_secret(
    session: Session, endpoint_id: int, box: SecretBox, now: datetime, grace: timedelta
) -> str:
    """A new secret (returned once); the old one also signs for ``grace`` (both
    signatures in ``webhook-signature``), so the CRM can switch without a gap."""
    endpoint = _endpoint(session, endpoint_id)
    secret = new_secret()
    if grace > timedelta() and endpoint.secret_box:
        endpoint.previous_secret_box = endpoint.secret_box
        endpoint.previous_until = now + grace
    else:
        endpoint.previous_secret_box = endpoint.previous_until = None
    endpoint.secret_box = box.seal(endpoint.id, secret)
    endpoint.secret_fingerprint = secret_fingerprint(secret)
    endpoint.updated_at = now
    return secret


def signing_secrets(endpoint: Any, box: SecretBox, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one
    during its grace period."""
    found = [box.open(endpoint.id, endpoint.secret_box)] if endpoint.secret_box else []
    until = endpoint.previous_until
    if endpoint.previous_secret_box and until is not None and now < until:
        found.append(box.open(endpoint.id, endpoint.previous_secret_box))
    return found


def endpoint_rows(session: Session) -> list[dict[str, Any]]:
    """Every endpoint not removed, with its secret masked and its deliveries per state."""
    d = CrmWebhookDelivery
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, n in session.execute(
        select(d.endpoint_id, d.state, func.count()).group_by(d.endpoint_id, d.state)
    ):
        counts.setdefault(endpoint_id, {})[state.value] = n
    endpoints = session.scalars(
        select(CrmWebhookEndpoint)
        .where(CrmWebhookEndpoint.state != EndpointState.REMOVED)
        .order_by(CrmWebhookEndpoint.id)
    )
    return [
        {
            "id": e.id,
            "url": e.url,
            "events": e.events.split(","),
            "state": e.state.value,
            "secret": f"whsec_******** (sha256 {e.secret_fingerprint})",
            "rotating_until": e.previous_until.isoformat() if e.previous_until else None,
            "created_at": e.created_at.isoformat(),
            "deliveries": counts.get(e.id, {}),
        }
        for e in endpoints
    ]
