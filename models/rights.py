"""Data-subject requests (GDPR art. 15-21) and link renewals, each with its due date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import Channel, RightsKind, RightsStatus


class RightsRequest(Base):
    """One request a person made from the rights centre (or an expired link).

    ``due_at`` is one calendar month after receipt (art. 12(3)), or later once
    extended (``extension_months``, with its reason; once).  ``details``
    holds what the request needs (the requested correction, the link to
    renew); an erasure redacts the personal data in it.  ``evidence`` is the
    portal's usual evidence (token id, client address, user agent), or, for a
    request an operator took by phone, e-mail or letter, the operator and the way
    it was received.  Each step is in ``rights_request_events``.
    """

    __tablename__ = "rights_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    #: The pseudonymous id of the consent ledger: what survives an erasure.
    subject_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[RightsKind] = mapped_column(str_enum(RightsKind))
    status: Mapped[RightsStatus] = mapped_column(str_enum(RightsStatus))
    details: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: The channel of the message whose link the person used.
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    #: The wave request whose signed link carried the request.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("wave_requests.id"))
    evidence: Mapped[dict[str, Any]]
    #: The form's single-use nonce (hashed with the kind): a double post records one request.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Art. 12(3): the months added to the deadline (1 or 2, once), why, and when.
    extension_months: Mapped[int | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extended_at: Mapped[datetime | None]
    #: Art. 12(4): why a request was declined (or the operator's note on completion).
    outcome_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_rights_requests_due", "status", "due_at"),
        Index("ix_rights_requests_contact", "contact_id"),
    )


class RightsRequestEvent(Base):
    """One step in a request's history (received, extended, completed, declined, a
    correction applied, a restriction lifted, passed on to a recipient, a notice sent).

    ``actor`` names the operator (or ``portal``); ``details`` holds field names, dates,
    ids and reasons, never an old or new address.
    """

    __tablename__ = "rights_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    rights_request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_rights_request_events_request", "rights_request_id", "id"),)


class RightsNotice(Base):
    """The message telling the person what became of their request: one per request and
    action (extended, completed, declined, lifted), so a retry never sends it twice.

    ``to_address`` is the address it goes to, kept only until the message has an
    outcome (then nulled): it lets a completed erasure still be told to the person.
    """

    __tablename__ = "rights_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    rights_request_id: Mapped[int] = mapped_column(ForeignKey("rights_requests.id"))
    action: Mapped[str] = mapped_column(String(20))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    #: pending -> sending -> sent / failed; ``no_address``: nobody to write to.
    status: Mapped[str] = mapped_column(String(20))
    to_address: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("rights_request_id", "action"),
        Index("ix_rights_notices_status", "status"),
    )
