"""The consent ledger's hash chain: each event's hash covers its fields and the
previous event of the same subject, so any hand edit breaks the chain.

The scheme is versioned, and every event stores the version it was hashed with
(``consent_events.hash_version``): a chain written under v1 still verifies as
v1, and new events are written as v2.

* **v1** (events written before the ledger-v2 migration): the fields of
  :data:`HASHED_FIELDS_V1`. It leaves out the contact the event belongs to, the
  purpose and notice row ids, the recorded time, the dedupe key and the
  version itself.
* **v2** (:data:`HASHED_FIELDS_V2`): every column that gives an event its
  meaning, and the scheme version. Only the database's own row number (``id``)
  is left out: it is assigned at insert, after the hash is computed; the order
  of a chain is fixed by ``prev_hash`` instead. Times are canonical UTC.
* **v3** (:data:`HASHED_FIELDS_V3`, the same fields as v2, version 3): the
  evidence holds the values that identify a person only **sealed**
  (``evidence["sealed"]``: AES-256-GCM under the subject's own data key, see
  :mod:`reconsent.kernel.rules.identifying_evidence`), and the hash covers the
  evidence as stored, so it covers the ciphertext, never the plaintext.
  Deleting the subject's key (crypto-shredding, ``reconsent retention apply``,
  erasure) makes those values unreadable and changes no byte a hash covers:
  the chain still verifies. A v3 event with an identifying value in clear is a
  break (``reconsent/ledger/verify.py``).

A body is the JSON object of those fields (``prev_hash`` included), keys
sorted, no spaces, UTF-8; the hash is its SHA-256 in hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The fields a v1 hash covers, in a fixed order. Never change: it would break old chains.
HASHED_FIELDS_V1 = (
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
#: Kept under its old name for readers of v1 chains.
HASHED_FIELDS = HASHED_FIELDS_V1

#: The fields a v2 hash covers (``prev_hash`` and ``hash_version`` are added to every body).
#: ``purpose`` is the purpose's code, ``purpose_id`` its row: both, so neither can be
#: repointed alone. Never change: write a v3.
HASHED_FIELDS_V2 = (
    "event_id",
    "subject_id",
    "contact_id",
    "purpose",
    "purpose_id",
    "state",
    "occurred_at",
    "recorded_at",
    "expires_at",
    "controller",
    "jurisdiction",
    "language",
    "notice_id",
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
    "dedupe_key",
)

#: v3 covers the same fields as v2; its evidence carries identifying values only sealed.
HASHED_FIELDS_V3 = HASHED_FIELDS_V2

#: The version new events are written with.
CURRENT_VERSION = 3
VERSIONS = (1, 2, 3)


def _canonical_v1(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _canonical_v2(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be hashed (v2 times are UTC)")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds")[:-6] + "Z"  # ...+00:00 -> ...Z
    if hasattr(value, "value"):  # enums
        return value.value
    return value


#: Values JSON writes as they are: no canonical form to look up (the hot path of verify).
_PLAIN = frozenset({str, int, bool, float, type(None), dict, list})
_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _body(fields: Mapping[str, Any], names: tuple[str, ...], canonical: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in names:
        value = fields.get(name)
        body[name] = value if type(value) in _PLAIN else canonical(value)
    return body


def event_hash(fields: Mapping[str, Any], prev_hash: str | None, version: int = 1) -> str:
    """The hash of one event under scheme ``version`` (1, 2 or 3)."""
    if version in (2, 3):
        body = _body(fields, HASHED_FIELDS_V2 if version == 2 else HASHED_FIELDS_V3, _canonical_v2)
        body["hash_version"] = version
    elif version == 1:
        body = _body(fields, HASHED_FIELDS_V1, _canonical_v1)
    else:
        raise ValueError(f"unknown hash version {version!r}")
    body["prev_hash"] = prev_hash
    return hashlib.sha256(_JSON.encode(body).encode()).hexdigest()
