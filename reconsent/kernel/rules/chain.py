"""The consent ledger's hash chain: each event's hash covers its fields and the
previous event of the same subject, so any hand edit breaks the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: The fields a hash covers, in a fixed order. Never reorder: it would break old chains.
HASHED_FIELDS = (
    "event_id",
    "subject_id",
    "purpose",
    "state",
    "occurred_at",
    "expires_at",
    "controller",
    "jurisdiction",
    "language",
    "notice_version",
    "notice_digest",
    "method",
    "channel",
    "actor",
    "wave_id",
    "request_id",
    "attempt_id",
    "provider_message_id",
    "evidence",
    "provable",
    "source",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def event_hash(fields: Mapping[str, Any], prev_hash: str | None) -> str:
    body = {name: _canonical(fields.get(name)) for name in HASHED_FIELDS}
    body["prev_hash"] = prev_hash
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
