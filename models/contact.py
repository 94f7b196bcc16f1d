"""Contacts: the people a wave may ask, with their addresses and preferences."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    #: Pseudonymous id used by the consent ledger; never derived from personal data.
    subject_id: Mapped[str] = mapped_column(String(36), unique=True)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    #: HMAC of the normalised address: the join key of the suppression list.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(10), default="it")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: Set when the person's identity was erased (art. 17); the row stays for the ledger.
    erased_at: Mapped[datetime | None]
    #: Set while processing is restricted (art. 18): no wave contacts the person.
    restricted_at: Mapped[datetime | None]
    #: When the person became a customer (a sale), from the CRM: the evidence an e-mail
    #: under soft spam (Codice privacy art. 130(4)) needs. NULL: not a customer.
    customer_since: Mapped[date | None] = mapped_column(Date)
    #: An active contract (or one ended less than 30 days ago): an RPO registration does
    #: not revoke this person's phone consents (D.P.R. 26/2022). From the CRM.
    contract_exempt: Mapped[bool] = mapped_column(default=False, server_default="0")
    #: The ISTAT code of the person's municipality (6 digits, e.g. 015146 Milano), from the
    #: CRM: its patron-saint day is a local holiday for the calling hours. NULL: unknown.
    municipality: Mapped[str | None] = mapped_column(String(6))

    __table_args__ = (
        Index("ix_contacts_email_hash", "email_hash"),
        Index("ix_contacts_phone_hash", "phone_hash"),
    )
