"""Waves, the per-contact requests they create, and the send attempts (the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    RequestBasis,
    RequestStatus,
    WaveAction,
    WaveStatus,
)


class Wave(Base):
    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[WaveStatus] = mapped_column(str_enum(WaveStatus))
    #: The validated WaveConfig, as JSON: what the wave was asked to do, for the audit trail.
    config: Mapped[dict[str, Any]]
    notice_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    planned_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    #: Preflight counts: eligible per basis, excluded per reason (aggregates only).
    plan_summary: Mapped[dict[str, Any] | None]


class WaveEvent(Base):
    """The wave's audit: every pause, resume, cancel, approval, edit and promotion, with
    who did it, when (the decision's own time) and what changed (an edit: the old and
    new values of each field). Appended, never changed."""

    __tablename__ = "wave_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    action: Mapped[WaveAction] = mapped_column(str_enum(WaveAction))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    #: The status before and after, the reason or note, an edit's changes.
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_wave_events_wave", "wave_id", "id"),)


class WaveRequest(Base):
    """One person asked by one wave: a small state machine over the wave's steps."""

    __tablename__ = "wave_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus))
    basis: Mapped[RequestBasis] = mapped_column(str_enum(RequestBasis))
    step_index: Mapped[int] = mapped_column(default=0)
    #: When the current step's message went out (its wait runs from here).
    step_sent_at: Mapped[datetime | None]
    #: When a tick should next look at this request.
    next_action_at: Mapped[datetime]
    answered_channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    close_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("wave_id", "contact_id"),
        Index("ix_wave_requests_due", "wave_id", "status", "next_action_at"),
        Index("ix_wave_requests_contact", "contact_id"),
    )


class SendAttempt(Base):
    """The outbox: one row per (request, step), claimed before the provider is called."""

    __tablename__ = "send_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("wave_requests.id"))
    step_index: Mapped[int]
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 10))
    status: Mapped[AttemptStatus] = mapped_column(str_enum(AttemptStatus))
    tries: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime]
    #: Random per claiming batch: who owns the claim (compare-and-set across workers).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    next_retry_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
    #: Latest delivery status reported by the provider's callbacks.
    delivery_status: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("request_id", "step_index"),
        Index("ix_send_attempts_provider_message_id", "provider_message_id"),
    )
