"""The CRM webhook delivery worker: claim due deliveries, sign, post, write back.

``deliver_due`` drains what is due at the clock's time, batch after batch:
each claimed delivery is signed with its endpoint's secret(s) (Standard
Webhooks: ``webhook-id`` stable across tries, ``webhook-timestamp`` of this
try, ``webhook-signature``) and posted. 2xx: delivered. A timeout, a
connection error, 408, 429 or 5xx: tried again after a backoff with jitter
(never sooner than ``Retry-After``), and the endpoint's other deliveries of the
batch wait with it, untried; after ``give_up_seconds`` from the first try it
is given up (failed). Any other answer fails it at once. Time comes from the
clock passed in (tests advance a fixed one; nothing here sleeps).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import CrmWebhookEndpoint
from reconsent.crm_webhooks.delivery_claims import (
    Claimed,
    TryResult,
    cancel_orphans,
    claim_due,
    write_results,
)
from reconsent.crm_webhooks.endpoint_admin import signing_secrets
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.kernel.clock import Clock
from reconsent.kernel.crm_events import DeliveryState
from reconsent.kernel.rules.webhook_retry import (
    Verdict,
    WebhookAnswer,
    next_try,
    parse_retry_after,
    verdict,
)
from reconsent.kernel.rules.webhook_signing import headers_for
from reconsent.settings import Settings

__all__ = [
    "DeliveryReport",
    "HttpPoster",
    "Poster",
    "WorkerConfig",
    "deliver_due",
    "drain_with_settings",
]

log = logging.getLogger(__name__)


class Poster(Protocol):
    """The one network call: post a body with headers, say what came back."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookAnswer: ...


class HttpPoster:
    """httpx, one connection pool per worker; no redirects followed (a 3xx is a refusal)."""

    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookAnswer:
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return WebhookAnswer(None, error="timeout")
        except httpx.TransportError as exc:
            return WebhookAnswer(None, error=f"connection error: {type(exc).__name__}")
        return WebhookAnswer(response.status_code, response.headers.get("retry-after"))

    def close(self) -> None:
        self._client.close()


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    #: Not tried: their endpoint failed earlier in the same batch.
    held: int = 0
    tries: int = 0
    by_endpoint: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerConfig:
    give_up_seconds: float
    timeout_seconds: float
    batch_size: int = 25

    @property
    def lease(self) -> timedelta:
        """Long enough for a whole batch to time out, and a margin."""
        return timedelta(seconds=self.batch_size * self.timeout_seconds + 60)


def deliver_due(
    engine: Engine,
    poster: Poster,
    box: SecretBox,
    clock: Clock,
    config: WorkerConfig,
    *,
    jitter: Callable[[], float] = random.random,
    max_batches: int | None = None,
) -> DeliveryReport:
    """Deliver everything due at ``clock.now()`` (until nothing is, or ``max_batches``)."""
    report = DeliveryReport()
    cancel_orphans(engine)
    batches = 0
    while max_batches is None or batches < max_batches:
        token = str(uuid.uuid4())
        claimed = claim_due(engine, clock.now(), token, limit=config.batch_size, lease=config.lease)
        if not claimed:
            break
        batches += 1
        results = _deliver_batch(engine, poster, box, clock, config, claimed, jitter, report)
        write_results(engine, token, results)
    return report


def _deliver_batch(
    engine: Engine,
    poster: Poster,
    box: SecretBox,
    clock: Clock,
    config: WorkerConfig,
    claimed: list[Claimed],
    jitter: Callable[[], float],
    report: DeliveryReport,
) -> list[TryResult]:
    endpoints = _endpoints(engine, {c.endpoint_id for c in claimed})
    secrets: dict[int, list[str]] = {}
    failing: dict[int, datetime] = {}  # endpoint -> when its failed delivery is retried
    results: list[TryResult] = []
    for item in claimed:
        endpoint = endpoints.get(item.endpoint_id)
        if item.endpoint_id in failing or endpoint is None:
            retry_at = failing.get(item.endpoint_id, clock.now())
            results.append(
                TryResult(item.id, DeliveryState.PENDING, retry_at, None, None, tried=False)
            )
            report.held += 1
            continue
        if item.endpoint_id not in secrets:
            secrets[item.endpoint_id] = signing_secrets(endpoint, box, clock.now())
        now = clock.now()
        body = item.body.encode()
        stamp = int(now.timestamp())
        headers = headers_for(secrets[item.endpoint_id], item.webhook_id, stamp, body)
        answer = poster.post(endpoint.url, body, headers)
        report.tries += 1
        result = _result_of(item, answer, now, config, jitter())
        if result.state is DeliveryState.PENDING:
            failing[item.endpoint_id] = result.next_attempt_at
            report.retrying += 1
        elif result.state is DeliveryState.DELIVERED:
            report.delivered += 1
            report.by_endpoint[item.endpoint_id] = report.by_endpoint.get(item.endpoint_id, 0) + 1
        else:
            report.failed += 1
        results.append(result)
    return results


def _result_of(
    item: Claimed, answer: WebhookAnswer, now: datetime, config: WorkerConfig, jitter: float
) -> TryResult:
    error = answer.error or (None if answer.status is None else f"HTTP {answer.status}")
    outcome = verdict(answer)
    if outcome is Verdict.DELIVERED:
        return TryResult(item.id, DeliveryState.DELIVERED, now, answer.status, None, now)
    if outcome is Verdict.RETRY:
        retry_at = next_try(
            attempts=item.attempts,
            now=now,
            first_attempt_at=item.first_attempt_at,
            give_up_seconds=config.give_up_seconds,
            retry_after=parse_retry_after(answer.retry_after, now),
            jitter=jitter,
        )
        if retry_at is not None:
            return TryResult(item.id, DeliveryState.PENDING, retry_at, answer.status, error)
        error = f"given up after {item.attempts} tries: {error}"
    log.warning("CRM webhook delivery %d failed: %s", item.id, error)
    return TryResult(item.id, DeliveryState.FAILED, now, answer.status, error)


def _endpoints(engine: Engine, ids: set[int]) -> dict[int, CrmWebhookEndpoint]:
    with Session(engine, expire_on_commit=False) as session:
        rows = session.scalars(select(CrmWebhookEndpoint).where(CrmWebhookEndpoint.id.in_(ids)))
        found = {e.id: e for e in rows}
        session.expunge_all()
    return found


def drain_with_settings(
    engine: Engine, cfg: Settings, clock: Clock, *, poster: Poster | None = None
) -> DeliveryReport:
    """One drain as configured (RECONSENT_CRM_WEBHOOK_*): the CLI's and the sweep's."""
    if not _any_endpoint(engine):  # nothing to deliver, and no secret key needed for it
        return DeliveryReport()
    box = SecretBox(cfg.crm_webhook_key())
    own = HttpPoster(cfg.crm_webhook_timeout_seconds) if poster is None else None
    config = WorkerConfig(
        give_up_seconds=cfg.crm_webhook_give_up_seconds,
        timeout_seconds=cfg.crm_webhook_timeout_seconds,
    )
    try:
        return deliver_due(engine, own or cast(Poster, poster), box, clock, config)
    finally:
        if own is not None:
            own.close()


def _any_endpoint(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(CrmWebhookEndpoint.id).limit(1)).first() is not None
