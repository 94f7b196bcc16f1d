"""SendGrid's Signed Event Webhook: ``POST /webhooks/sendgrid/events``.

A batch is accepted only when

* ``settings.sendgrid_event_public_key`` is set (unset: every batch is 403);
* ``X-Twilio-Email-Event-Webhook-Signature`` verifies (ECDSA P-256 over the
  timestamp header + the raw body, by the SDK's ``EventWebhook``);
* ``X-Twilio-Email-Event-Webhook-Timestamp`` is at most :data:`REPLAY_WINDOW`
  old and at most :data:`FUTURE_SKEW` ahead of the portal's clock: an old
  batch replayed is refused even with a genuine signature.

Otherwise 403 and nothing recorded.  The events of a batch are applied in one
unit of work, each once (its ``sg_event_id`` in ``webhook_events``), through
:func:`reconsent.feedback.delivery_reports.apply_delivery`: our ``custom_args`` (``attempt_id``,
``request_id``) name the attempt.  Personal fields of the events (``email``,
``ip``, ``useragent``, bounce ``reason``) are never read into the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from consent_portal.state import Portal, portal_of, retry_on_conflict, run_sync
from reconsent.feedback.delivery_reports import DeliveryReport, apply_delivery
from reconsent.feedback.webhook_keys import event_key
from reconsent.kernel.rules.delivery_outcomes import sendgrid_event_verdict
from reconsent.kernel.vocab import Channel

__all__ = [
    "EVENTS_PATH",
    "FUTURE_SKEW",
    "MAX_BATCH_BYTES",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "events",
    "signature_ok",
]

EVENTS_PATH = "/webhooks/sendgrid/events"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
REPLAY_WINDOW = timedelta(minutes=10)
FUTURE_SKEW = timedelta(minutes=1)
#: SendGrid posts batches of many events: this route's own body limit.
MAX_BATCH_BYTES = 8 * 1024 * 1024

logger = logging.getLogger(__name__)
#: Unix seconds as SendGrid sends them (str.isdigit would take "²"; 11 digits reach 5138).
_TIMESTAMP = re.compile(r"[0-9]{1,11}")
_ID = re.compile(r"[0-9]{1,18}")


def signature_ok(portal: Portal, body: bytes, signature: str, timestamp: str) -> bool:
    public_key = portal.settings.sendgrid_event_public_key
    if not public_key or not signature or not _TIMESTAMP.fullmatch(timestamp):
        return False  # ASCII digits only, bounded: "²" or 40 digits is a 403, never a 500
    moment = datetime.fromtimestamp(int(timestamp), UTC)
    now = portal.clock.now()
    if now - moment > REPLAY_WINDOW or moment - now > FUTURE_SKEW:
        return False
    try:
        webhook = EventWebhook()
        key = webhook.convert_public_key_to_ecdsa(public_key)
        return bool(webhook.verify_signature(body.decode("utf-8"), signature, timestamp, key))
    except (ValueError, TypeError):  # a malformed key, signature (base64) or body (UTF-8)
        return False


async def events(request: Request) -> Response:
    portal = portal_of(request)
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature_ok(portal, body, signature, timestamp):
        logger.warning("sendgrid event webhook refused: bad signature or timestamp")
        return PlainTextResponse("forbidden", status_code=403)
    try:
        batch = json.loads(body)
    except ValueError:
        return PlainTextResponse("not JSON", status_code=400)
    if not isinstance(batch, list):
        return PlainTextResponse("expected a JSON array of events", status_code=400)
    reports = [r for r in (_report(e) for e in batch if isinstance(e, dict)) if r is not None]
    counts = await run_sync(_apply, portal, reports)
    logger.info("sendgrid events: %s", dict(counts))
    return Response(status_code=200)


def _apply(portal: Portal, reports: list[DeliveryReport]) -> Counter[str]:
    # By attempt (stable: each attempt's events keep their order), so concurrent batches
    # lock the same requests in the same order.
    ordered = sorted(reports, key=lambda r: r.attempt_id or 0)

    def work(session: Session) -> Counter[str]:
        counts: Counter[str] = Counter()
        for report in ordered:
            applied = apply_delivery(
                session,
                report,
                ctx=portal.ledger_context(),
                max_tries=portal.settings.send_max_tries,
            )
            counts[f"{report.verdict.status}:{applied.value}"] += 1
        return counts

    return retry_on_conflict(portal.engine, work)


def _int(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if _ID.fullmatch(text) else None


def _report(event: dict[str, Any]) -> DeliveryReport | None:
    """One event as a report; None when it names no attempt of ours."""
    attempt_id = _int(event.get("attempt_id"))
    if attempt_id is None:
        return None
    name = str(event.get("event", ""))
    sg_event_id = str(event.get("sg_event_id") or "").strip()
    if not sg_event_id:  # never seen from SendGrid, but keep such an event idempotent too
        parts = [
            name,
            str(event.get("timestamp")),
            str(event.get("sg_message_id")),
            str(attempt_id),
        ]
        sg_event_id = "h-" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    bounce_type = event.get("type")
    smtp_status = event.get("status")
    return DeliveryReport(
        provider="sendgrid",
        event_key=event_key("sendgrid", sg_event_id),
        channel=Channel.EMAIL,
        verdict=sendgrid_event_verdict(
            name,
            str(bounce_type) if bounce_type is not None else None,
            str(smtp_status) if smtp_status is not None else None,
        ),
        attempt_id=attempt_id,
        request_id=_int(event.get("request_id")),
    )
