"""The CRM's webhook endpoints and the durable outbox of their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.crm_events import DeliveryState, EndpointState

#: The partial index of the deliveries still to send (both dialects share the syntax).
_OPEN = text("state IN ('pending', 'delivering')")


class CrmWebhookEndpoint(Base):
    """One URL of the CRM, the event globs it subscribes to and its signing secret.

    ``secret_box`` is the ``whsec_`` secret encrypted (AES-256-GCM under
    ``RECONSENT_CRM_WEBHOOK_SECRET_KEY``, bound to the endpoint's id): a copy of
    the database alone does not give it. During a rotation the previous secret
    signs too, until ``previous_until``.
    """

    __tablename__ = "crm_webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: Comma-separated globs (``consent.changed,rights.request.*``).
    events: Mapped[str] = mapped_column(String(500))
    state: Mapped[EndpointState] = mapped_column(str_enum(EndpointState, 10))
    secret_box: Mapped[str | None] = mapped_column(String(200))
    #: First 8 hex digits of the secret's SHA-256: what `webhooks list` shows of it.
    secret_fingerprint: Mapped[str | None] = mapped_column(String(8))
    previous_secret_box: Mapped[str | None] = mapped_column(String(200))
    previous_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CrmWebhookDelivery(Base):
    """One event for one endpoint: written in the transaction of the change itself.

    ``webhook_id`` is the Standard Webhooks message id, the same on every try and
    every endpoint (a receiver dedupes on it); ``body`` the exact JSON signed and
    sent (no e-mail, phone or name: ids, purposes, states, times).
    ``subject_key`` is the person's pseudonymous subject id: a person's later
    delivery to an endpoint waits until the earlier ones are delivered or given up.
    While DELIVERING, ``next_attempt_at`` is the end of the worker's lease.
    """

    __tablename__ = "crm_webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("crm_webhook_endpoints.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    subject_key: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[DeliveryState] = mapped_column(str_enum(DeliveryState, 12))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("webhook_id", "endpoint_id"),
        Index(
            "ix_crm_webhook_deliveries_due",
            "next_attempt_at",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index(
            "ix_crm_webhook_deliveries_order",
            "endpoint_id",
            "subject_key",
            "id",
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_crm_webhook_deliveries_created", "created_at"),
    )
