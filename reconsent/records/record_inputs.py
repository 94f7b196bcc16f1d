"""What the record of processing and the DPIA are generated from, as plain data.

``CatalogSnapshot``: the catalog in the database (purposes, processors) and what the
database says about the processing (how many people, which channels the waves use,
their calling hours and caps, the last RPO consultation). ``ProductFacts``: what the
settings say (controller, DPO, representative, who serves each channel, the security
measures switched on). Both are read at the edge (``catalog_rows.py``,
``product_facts.py``); everything after them is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from reconsent.kernel.rules.transfers import TransferMechanism

__all__ = [
    "CatalogProcessor",
    "CatalogPurpose",
    "CatalogSnapshot",
    "ContactRules",
    "Party",
    "ProductFacts",
    "SecurityFacts",
]


@dataclass(frozen=True)
class CatalogPurpose:
    code: str
    category: str
    channel: str | None
    lawful_basis: str
    lifetime_months: int
    titles: dict[str, str]
    descriptions: dict[str, str]
    third_party_sharing: bool = False
    sensitive: bool = False
    children: bool = False
    data_categories: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    #: {"refused": 0, "withdrawn": 0, "expired": 6}; None: not stated.
    retention: dict[str, int] | None = None
    processors: tuple[str, ...] = ()
    data_subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogProcessor:
    code: str
    name: str
    service: str
    country: str
    dpa_reference: str
    transfer_mechanism: TransferMechanism
    role: str = "processor"
    dpa_date: date | None = None
    safeguards: tuple[str, ...] = ()
    adapter: str | None = None


@dataclass(frozen=True)
class ContactRules:
    """How the waves in the database contact people (aggregates of their configs)."""

    #: Channels some wave's steps use ("email", "sms", "ivr").
    channels: tuple[str, ...] = ()
    #: Per channel, the calling-hours presets the waves apply.
    quiet_hours: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: (max requests, days) of each wave's frequency cap.
    frequency_caps: tuple[tuple[int, int], ...] = ()
    #: Link lifetimes of the waves, in days.
    link_days: tuple[int, ...] = ()
    waves: int = 0
    #: Waves that declare soft spam for e-mail (art. 130(4)).
    soft_spam_waves: int = 0


@dataclass(frozen=True)
class CatalogSnapshot:
    purposes: tuple[CatalogPurpose, ...]
    processors: tuple[CatalogProcessor, ...]
    #: People in the base (not erased).
    contacts: int = 0
    suppressions: int = 0
    rules: ContactRules = field(default_factory=ContactRules)
    rpo_last_consulted: datetime | None = None


@dataclass(frozen=True)
class Party:
    name: str
    contact: str
    address: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class SecurityFacts:
    """The security measures the product applies, as configured."""

    database: str  # "sqlite" or "postgresql"
    least_privilege_roles: bool  # PostgreSQL with a separate schema owner
    checkpoint_signing: bool
    daily_checkpoints: bool
    receipt_signing: bool
    portal_https: bool
    portal_rate_per_ip: int
    portal_rate_per_token: int
    evidence_ip_truncate: bool
    sendgrid_events_verified: bool
    api_frequency_cap: tuple[int, int] | None  # (contacts reached, days); None: no cap
    api_calling_hours: dict[str, str]  # channel -> preset the operator API applies
    rpo_validity_days: int


@dataclass(frozen=True)
class ProductFacts:
    controller: Party
    jurisdiction: str
    dpo: Party | None
    representative: Party | None
    #: Who serves each channel: "sendgrid", "twilio" or "outbox".
    providers: dict[str, str]
    security: SecurityFacts
    #: Contacts from which the DPIA counts the processing as large scale.
    large_scale_contacts: int
    generated_at: datetime
    #: Months after the last request or import a person who never answered is kept
    #: (``reconsent retention apply``).
    unanswered_months: int = 24
