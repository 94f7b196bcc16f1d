"""Data-subject requests (GDPR art. 15-21) and link renewals, each with its due date."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import Channel, RightsKind, RightsStatus


class RightsRequest(Base):
    """One request a person made from the rights centre (or an expired link).

    ``due_at`` is one calendar month after receipt (art. 12(3)).  ``details``
    holds what the request needs (the requested correction, the link to
    renew); an erasure redacts the personal data in it.  ``evidence`` is the
    portal's usual evidence (token id, client address, user agent).
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

    __table_args__ = (
        Index("ix_rights_requests_due", "status", "due_at"),
        Index("ix_rights_requests_contact", "contact_id"),
    )
