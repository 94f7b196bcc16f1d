"""Provider callbacks already applied: the idempotency keys of the webhooks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class WebhookEvent(Base):
    """One provider callback (or one event of a SendGrid batch) that was applied.

    Written in the same transaction as the callback's effects, so a callback
    delivered twice (a provider retry, a replay) finds its key and changes
    nothing.  Keys are provider ids only (``MessageSid:status``, ``CallSid:status``,
    the inbound ``MessageSid``, SendGrid's ``sg_event_id``): no personal data.
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(160), unique=True)
    received_at: Mapped[datetime]
