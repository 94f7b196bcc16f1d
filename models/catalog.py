"""Purposes of processing and versioned, immutable privacy notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import Channel


class Purpose(Base):
    __tablename__ = "purposes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(64), default="marketing")
    #: Channel-bound purposes (e.g. "marketing by SMS") name their channel.
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    lawful_basis: Mapped[str] = mapped_column(String(32), default="consent")
    lifetime_months: Mapped[int] = mapped_column(default=24)
    #: {"it": "...", "en": "..."}
    titles: Mapped[dict[str, Any]]
    descriptions: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Notice(Base):
    """One language of one notice version. Published once, never changed."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(300))
    body_html: Mapped[str] = mapped_column(Text)
    #: sha256 of the rendered body: the "content digest" of the consent record.
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    #: When the version took effect (every locale of a version has the same): a consent
    #: captured earlier cannot cite it. Set in the catalog file; default the publish time.
    effective_from: Mapped[datetime]

    __table_args__ = (UniqueConstraint("version", "locale"),)
