"""Purposes of processing and versioned, immutable privacy notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum
from reconsent.kernel.rules.transfers import TransferMechanism
from reconsent.kernel.vocab import Channel, ConsentState

__all__ = ["RETENTION_STATES", "Notice", "Processor", "Purpose", "Retention"]

#: The states after which a purpose's data has a retention period of its own.
RETENTION_STATES = (ConsentState.REFUSED, ConsentState.WITHDRAWN, ConsentState.EXPIRED)


@dataclass(frozen=True)
class Retention:
    """How long the personal data used for a purpose is kept once its consent is no
    longer in force, in months after a refusal, a withdrawal or the expiry (0: not
    kept). While a consent is in force the data is kept for the purpose. Stored as
    ``{"refused": 0, "withdrawn": 0, "expired": 6}`` (the catalog's ``retention``)."""

    refused: int
    withdrawn: int
    expired: int

    def months_after(self, state: ConsentState) -> int | None:
        """The months kept after ``state`` (None: a state with no period of its own)."""
        return getattr(self, state.value) if state in RETENTION_STATES else None

    def as_json(self) -> dict[str, int]:
        return {state.value: getattr(self, state.value) for state in RETENTION_STATES}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Retention | None:
        if not value:
            return None
        return cls(**{state.value: int(value[state.value]) for state in RETENTION_STATES})


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
    #: The data goes to recipients outside the controller (receipts: thirdPartyDisclosure).
    third_party_sharing: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Special categories of data (GDPR art. 9).
    sensitive: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: The processing concerns children's data.
    children: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: ["contact details: e-mail address", ...]; empty: the channel's contact details.
    data_categories: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    #: ["SendGrid (processor)", ...]: who receives the data.
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    #: ``Retention.as_json()``; NULL: not stated in the catalog.
    retention: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The two lists below take their empty default from the database only (no Python
    # default, not fetched back on insert: ``eager_defaults`` is off), so a purpose written
    # without them names no column a database at an older revision lacks (the migration
    # tests write purposes there).
    #: Codes of the catalog's processors (``processors.code``) the purpose uses.
    processors: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))
    #: ["customers", "prospective customers"]: the categories of data subjects.
    data_subjects: Mapped[list[str]] = mapped_column(JSON, server_default=text("'[]'"))

    __mapper_args__ = {"eager_defaults": False}

    @property
    def retention_policy(self) -> Retention | None:
        return Retention.from_json(self.retention)


class Processor(Base):
    """A processor (GDPR art. 28) of the catalog: who processes data on the controller's
    behalf, where, under which agreement and transfer mechanism. Mirrors the catalog
    file: upserted by code, removed when the file no longer lists it."""

    __tablename__ = "processors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: "processor" or "sub-processor".
    role: Mapped[str] = mapped_column(String(32), default="processor")
    #: What it does for the controller ("e-mail delivery").
    service: Mapped[str] = mapped_column(String(300))
    #: ISO 3166-1 alpha-2 country where it processes the data.
    country: Mapped[str] = mapped_column(String(2))
    dpa_reference: Mapped[str] = mapped_column(String(300))
    dpa_date: Mapped[date | None] = mapped_column(Date)
    transfer_mechanism: Mapped[TransferMechanism] = mapped_column(str_enum(TransferMechanism, 16))
    safeguards: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    #: The channel adapter it is ("sendgrid", "twilio"), if any: the record says whether
    #: the settings use it.
    adapter: Mapped[str | None] = mapped_column(String(16))
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
