"""Provider callbacks are applied once: the idempotency key of each, in ``webhook_events``.

:func:`first_time` inserts the key inside the caller's unit of work, so the key
and the callback's effects commit together: a callback delivered twice (a
provider retry, a replay, two racing workers) finds the key and changes
nothing, and a callback whose effects rolled back can be applied again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from models import WebhookEvent
from reconsent.db import insert_ignoring_conflicts

__all__ = ["MAX_KEY_LENGTH", "event_key", "first_time"]

MAX_KEY_LENGTH = 160


def event_key(kind: str, *parts: str) -> str:
    """``kind:part:part``; a key longer than the column becomes ``kind:sha256``."""
    key = ":".join((kind, *parts))
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def first_time(session: Session, provider: str, key: str, now: datetime) -> bool:
    """Record ``key``; False when it was already recorded (the callback was applied)."""
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError("build webhook keys with event_key()")
    # RETURNING, not rowcount: psycopg reports -1 for this INSERT through SQLAlchemy 2.1.
    inserted = session.scalar(
        insert_ignoring_conflicts(session, WebhookEvent.__table__)
        .values(provider=provider, event_key=key, received_at=now)
        .returning(WebhookEvent.__table__.c.id)
    )
    return inserted is not None
