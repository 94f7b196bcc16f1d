"""The operator API's keys and the requests it answered once (``Idempotency-Key``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ApiKey(Base):
    """One key of the operator API. The secret itself is never stored: only its SHA-256,
    found by the key's public ``prefix`` (``rk_<prefix>_<secret>``)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    #: Comma-separated, e.g. ``contactability:read,consents:write``.
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: The key this one replaced (``reconsent api-keys rotate``).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))


class IdempotentRequest(Base):
    """A write answered under an ``Idempotency-Key``: a retry gets the same answer and
    records nothing; the same key with another body is refused. Written in the same
    transaction as the write it answers."""

    __tablename__ = "api_idempotency"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the method, the path and the body.
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("key_id", "idempotency_key"),)
