"""The vocabulary of the CRM webhooks: event types, subscription globs, states.

Pure: no I/O. The event types are what a CRM subscribes to
(``reconsent webhooks add URL --events consent.changed,rights.request.*``); a
subscription is a list of globs (``*`` matches any run of characters, ``?``
one), checked against :data:`EVENT_TYPES` when an endpoint is added.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from functools import cache

__all__ = [
    "EVENT_TYPES",
    "DeliveryState",
    "EndpointState",
    "EventType",
    "matches",
    "parse_patterns",
]


class EventType(StrEnum):
    CONSENT_CHANGED = "consent.changed"
    OBJECTION_RECORDED = "objection.recorded"
    RIGHTS_REQUEST_CREATED = "rights.request.created"
    RIGHTS_REQUEST_COMPLETED = "rights.request.completed"
    RIGHTS_REQUEST_DECLINED = "rights.request.declined"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)


class EndpointState(StrEnum):
    ENABLED = "enabled"  # events are queued and sent
    DISABLED = "disabled"  # paused: events are queued, nothing is sent until enabled again
    REMOVED = "removed"  # nothing is queued or sent; its secret is wiped


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (the first try, or a retry)
    DELIVERING = "delivering"  # claimed by a worker until next_attempt_at (its lease)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: out of time, or the receiver refused it (4xx)
    CANCELLED = "cancelled"  # its endpoint was removed before it went out


#: States still to be sent: a later delivery of the same person waits for these.
OPEN_STATES: tuple[DeliveryState, ...] = (DeliveryState.PENDING, DeliveryState.DELIVERING)

_PATTERN = re.compile(r"^[a-z0-9.*?_]+$")


def parse_patterns(text: str | Iterable[str]) -> list[str]:
    """The globs of ``--events`` (comma separated), each matching a known event type.

    Raises ``ValueError`` naming a pattern that is malformed or matches nothing.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    patterns: list[str] = []
    for raw in parts:
        pattern = raw.strip().lower()
        if not pattern:
            continue
        if not _PATTERN.match(pattern):
            raise ValueError(f"invalid event pattern {raw.strip()!r}")
        if not any(_compiled(pattern).match(kind) for kind in EVENT_TYPES):
            raise ValueError(
                f"event pattern {pattern!r} matches no event type ({', '.join(EVENT_TYPES)})"
            )
        if pattern not in patterns:
            patterns.append(pattern)
    if not patterns:
        raise ValueError("name at least one event type, e.g. --events consent.changed")
    return patterns


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether any glob of a subscription matches ``event_type``."""
    return any(_compiled(p).match(event_type) for p in patterns)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))
