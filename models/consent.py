"""The consent ledger (append-only events), its projection and the suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, exists
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState, SuppressionReason


class ConsentEvent(Base):
    """One consent event; UPDATE and DELETE are refused by database triggers.

    Fields follow the union of ISO/IEC TS 27560, the Kantara Consent Receipt and
    Fides listed in ``shared/domain.md``; ``hash`` chains the events of a subject.
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    subject_id: Mapped[str] = mapped_column(String(36))
    purpose_id: Mapped[int] = mapped_column(ForeignKey("purposes.id"))
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState))
    #: When the person acted (for imports: the original capture time).
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    controller: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    language: Mapped[str | None] = mapped_column(String(10))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    notice_version: Mapped[str | None] = mapped_column(String(32))
    notice_digest: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[CollectionMethod] = mapped_column(str_enum(CollectionMethod))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    actor: Mapped[str] = mapped_column(String(64))
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("waves.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("wave_requests.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("send_attempts.id"))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]]
    #: False for imported history that carries no evidence ("unprovable").
    provable: Mapped[bool]
    source: Mapped[str | None] = mapped_column(String(128))
    #: Natural key that makes re-imports and double posts no-ops.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: The hash scheme of this event (``reconsent/kernel/rules/chain.py``): 1 before ledger v2.
    hash_version: Mapped[int]

    __table_args__ = (
        Index("ix_consent_events_subject", "subject_id", "id"),
        Index("ix_consent_events_contact", "contact_id", "purpose_id"),
    )


class ConsentStatus(Base):
    """Current state per contact and purpose: a projection of the events,
    maintained in the same transaction as the event that changes it."""

    __tablename__ = "consent_status"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    purpose_id: Mapped[int] = mapped_column(ForeignKey("purposes.id"), primary_key=True)
    state: Mapped[ConsentState] = mapped_column(str_enum(ConsentState))
    occurred_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    notice_version: Mapped[str | None] = mapped_column(String(32))
    provable: Mapped[bool]
    last_event_id: Mapped[int] = mapped_column(ForeignKey("consent_events.id"))


class Suppression(Base):
    """Who must never be contacted, by contact and/or by address hash.

    ``channel`` NULL means every channel.  Address hashes survive erasure, so an
    erased person re-imported from a CRM is still never contacted.
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    reason: Mapped[SuppressionReason] = mapped_column(str_enum(SuppressionReason))
    source: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_suppressions_contact", "contact_id"),
        Index("ix_suppressions_address_hash", "address_hash"),
    )


class SuppressionLift(Base):
    """A suppression lifted (an SMS START after a STOP): a new row, never a delete.

    The suppression stays in ``suppressions`` as history; it is in force while no
    lift names it (:func:`suppression_in_force`). Append-only, logged by trigger.
    Lifts recorded before revision d5a1f3c90001 (when a lift deleted the row) were
    rebuilt from the suppression log: their ``source`` is the one the log kept.
    """

    __tablename__ = "suppression_lifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    suppression_id: Mapped[int] = mapped_column(ForeignKey("suppressions.id"), unique=True)
    source: Mapped[str] = mapped_column(String(128))
    lifted_at: Mapped[datetime]


def suppression_in_force() -> ColumnElement[bool]:
    """True for a ``suppressions`` row no lift names (correlated to the enclosing query)."""
    return ~exists().where(SuppressionLift.suppression_id == Suppression.id)


class SuppressionLogEntry(Base):
    """The suppression list's own history, written by database triggers (never by the
    application): a row when a suppression is added, one when it is lifted (an SMS
    START). Append-only; ``reconsent ledger verify`` checks the list against it."""

    __tablename__ = "suppression_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(8))  # "added" / "lifted"
    suppression_id: Mapped[int]
    contact_id: Mapped[int | None]
    address_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_suppression_log_suppression", "suppression_id"),)
