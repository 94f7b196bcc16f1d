"""Italy's Registro Pubblico delle Opposizioni (D.P.R. 26/2022): the register's answers.

Operators must check their lists against the register before every campaign and
at least monthly; an answer is valid for 15 days. A registration revokes the
phone-marketing consents given before it (except for parties with an active
contract), never those given after, and never covers e-mail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class RpoConsultation(Base):
    """One consultation of the register: when it was answered, and how many numbers."""

    __tablename__ = "rpo_consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    consulted_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(128))
    numbers: Mapped[int]
    imported_at: Mapped[datetime]


class RpoRegistration(Base):
    """A number the register answered as registered, with its registration date."""

    __tablename__ = "rpo_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("rpo_consultations.id"))
    #: The keyed hash of the E.164 number (never the number in clear).
    phone_hash: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("consultation_id", "phone_hash"),
        Index("ix_rpo_registrations_phone_hash", "phone_hash"),
    )
