"""Per-subject data keys that seal the identifying part of consent evidence.

Not append-only, on purpose: crypto-shredding a subject's evidence is nulling
``wrapped_key`` (the row stays, with ``shredded_at``, so proof can say the
evidence was shredded and no new key is made for that subject).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class EvidenceKey(Base):
    """One subject's AES-256 data key, wrapped by ``RECONSENT_EVIDENCE_KEY`` (never in clear)."""

    __tablename__ = "evidence_keys"

    subject_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: base64(nonce || AES-GCM(wrapping key, data key)); NULL once shredded.
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    #: When the key was deleted (retention, erasure): the sealed evidence is gone for good.
    shredded_at: Mapped[datetime | None]
