"""What the emulated SendGrid sends *to us*: Signed Event Webhook batches.

SendGrid signs each batch with an ECDSA P-256 key: the signature is the
base64 DER signature over ``timestamp + raw body`` (SHA-256), sent in
``X-Twilio-Email-Event-Webhook-Signature`` with the timestamp in
``X-Twilio-Email-Event-Webhook-Timestamp``; the console shows the public key as
base64 DER (SubjectPublicKeyInfo), which is what ``EventWebhook`` loads.
Events carry the personalization's ``custom_args`` at the top level, as
SendGrid's do, plus ``email``, ``timestamp``, ``sg_event_id`` and
``sg_message_id``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "EventWebhookSigner", "SendGridEventsMixin"]

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


class EventWebhookSigner:
    """An Event Webhook signing key (a fresh P-256 key per emulator)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        """What to paste in ``RECONSENT_SENDGRID_EVENT_PUBLIC_KEY``."""
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, body: bytes, timestamp: str) -> str:
        signature = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()

    def headers(self, body: bytes, when: datetime) -> dict[str, str]:
        timestamp = str(int(when.timestamp()))
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: self.sign(body, timestamp),
            TIMESTAMP_HEADER: timestamp,
        }


class SendGridEventsMixin:
    """Event Webhook helpers of :class:`reconsent.dev.emulators.sendgrid.SendGridEmulator`."""

    event_signer: EventWebhookSigner

    @property
    def event_public_key(self) -> str:
        return self.event_signer.public_key

    def event(
        self,
        delivery: Any,
        name: str,
        *,
        now: datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """One event about a :class:`reconsent.dev.emulators.sendgrid.Delivery`.

        ``fields`` add to it, e.g. ``type="bounce"``, ``status="5.1.1"``."""
        when = now or datetime.now(UTC)
        return {
            "email": delivery.to[0]["email"],
            "timestamp": int(when.timestamp()),
            "event": name,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": f"{delivery.message_id}.filterdrecv-emulator-{secrets.token_hex(4)}",
            "smtp-id": f"<{delivery.message_id}@emulator.sendgrid.net>",
            **delivery.custom_args,
            **fields,
        }

    def signed_batch(
        self, events: Sequence[dict[str, Any]], *, now: datetime | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The raw body and headers SendGrid would post (for replays and tampering in tests)."""
        body = json.dumps(list(events), separators=(",", ":")).encode()
        return body, self.event_signer.headers(body, now or datetime.now(UTC))

    def fire_events(
        self,
        url: str,
        events: Sequence[dict[str, Any]],
        *,
        now: datetime | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        body, headers = self.signed_batch(events, now=now)
        if client is not None:
            return client.post(url, content=body, headers=headers)
        with httpx.Client(timeout=10) as own:
            return own.post(url, content=body, headers=headers)
