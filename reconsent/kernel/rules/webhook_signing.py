"""Standard Webhooks signatures (https://www.standardwebhooks.com/, spec v1).

A message is signed as ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))``
where ``key`` is the base64-decoded part of the endpoint's ``whsec_<base64>``
secret; the ``webhook-signature`` header is a space-separated list of
``v1,<signature>`` (two during a secret rotation). A receiver recomputes it with
``hmac.compare_digest`` and refuses a timestamp more than five minutes off.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

__all__ = [
    "SECRET_PREFIX",
    "TOLERANCE_SECONDS",
    "headers_for",
    "secret_fingerprint",
    "signature",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
#: How far a receiver accepts a timestamp from its own clock, either way.
TOLERANCE_SECONDS = 300


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per secret (newest first)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
        "content-type": "application/json",
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: int) -> bool:
    """What a receiver does: a fresh timestamp and one matching ``v1`` signature."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, msg_id, int(stamp), body)
    return any(
        hmac.compare_digest(expected, given)
        for given in lowered.get("webhook-signature", "").split()
    )


def secret_fingerprint(secret: str) -> str:
    """What ``webhooks list`` shows of a secret: nothing of it, only a short digest."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]
