"""One-time codes that prove a person controls an address we hold (issue 15)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.vocab import Channel


class OneTimeCode(Base):
    """One code challenge: asked from the portal home (an address typed by the visitor)
    or from a wave link's rights centre (the link's person).

    The code itself is never stored: ``code_digest`` is its HMAC bound to
    ``public_id`` (:func:`reconsent.kernel.rules.one_time_codes.code_digest`).
    A challenge for an address we do not hold is stored too (``contact_id``
    NULL, nothing sent): the limits and the answers are the same for both.
    ``address_hash`` is the address's keyed hash (the suppression list's key);
    ``client_hash`` a keyed hash of the client's network: no address in clear.
    """

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The opaque id the code form carries (never the row id: not guessable).
    public_id: Mapped[str] = mapped_column(String(43), unique=True)
    address_hash: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    #: Where the code went (e-mail or SMS); NULL when nothing was sent.
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, 10))
    #: The wave request whose link asked for the code (NULL: the portal home).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("wave_requests.id"))
    code_digest: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    used_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_one_time_codes_address", "address_hash", "created_at"),
        Index("ix_one_time_codes_client", "client_hash", "created_at"),
    )
