"""Consent receipts shaped as Kantara Initiative Consent Receipt 1.1 (``KI-CR-v1.1.0``).

``build_receipt`` is a pure function over :class:`ReceiptData`; ``load_receipt``
reads that data for one contact from the ledger: every event of the person, per
purpose and in the order they happened (after a withdrawal the receipt still
shows the consent that was withdrawn), and the purpose's facts from the catalog.

What each field says, and where it comes from:

* ``piiControllers``: the controller **as recorded with the events**
  (``consent_events.controller``, the latest event's first; one entry per name
  recorded), with the controller's contact points (``contact``, ``email``,
  ``address``, ``phone``) from the settings: how the person reaches it today.
* ``jurisdiction``: as recorded with the latest event.
* per purpose: the current state and ``termination``; ``thirdPartyDisclosure``
  (and ``thirdPartyName``), ``piiCategory``, the extensions ``lawfulBasis``,
  ``recipients``, ``retention`` and ``children`` from the catalog as it stands
  now (the notice version and digest of each event say what the person was
  shown); ``history``: each event, oldest first.
* ``sensitive`` / ``spiCat``: any purpose of special categories (art. 9), and
  their data categories.
* ``collectionMethod``: how the latest event was collected, readable
  ("phone call (keypad)").
* ``consentRecords``: every supporting ledger event with its hash-chain values
  and the controller recorded with it, so the receipt can be checked against
  the ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentEvent, Purpose, Retention
from reconsent.campaigns.notices import localized
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.receipt_texts import (
    PII_CATEGORIES,
    collection_method,
    retention_text,
    termination,
)
from reconsent.settings import Settings

RECEIPT_VERSION = "KI-CR-v1.1.0"
#: Namespace of the receipt id: the same ledger state always yields the same id.
RECEIPT_NAMESPACE = uuid.UUID("8f1f9a52-2b1e-5d0c-9a43-7c4b8e0f6d21")
SPECIAL_CATEGORIES = "special categories of personal data (GDPR art. 9)"

__all__ = [
    "RECEIPT_VERSION",
    "ControllerContact",
    "PurposeFacts",
    "ReceiptData",
    "ReceiptEvent",
    "ReceiptItem",
    "build_receipt",
    "load_receipt",
    "notice_path",
]


@dataclass(frozen=True)
class PurposeFacts:
    """What the catalog states about a purpose."""

    code: str
    title: str
    category: str
    channel: Channel | None
    lawful_basis: str = "consent"
    third_party_sharing: bool = False
    sensitive: bool = False
    children: bool = False
    data_categories: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    retention: Retention | None = None

    @property
    def pii_categories(self) -> list[str]:
        return list(self.data_categories or PII_CATEGORIES[self.channel])


@dataclass(frozen=True)
class ReceiptEvent:
    """One ledger event, as recorded."""

    event_id: str
    state: ConsentState
    occurred_at: datetime
    expires_at: datetime | None
    method: CollectionMethod
    channel: Channel | None
    controller: str
    jurisdiction: str
    notice_version: str | None
    notice_digest: str | None
    hash: str
    prev_hash: str | None
    source: str | None = None

    @property
    def collection_method(self) -> str:
        return collection_method(self.method, self.channel, self.source)


@dataclass(frozen=True)
class ReceiptItem:
    """One purpose and its history, oldest first: the last event is its current state."""

    purpose: PurposeFacts
    history: tuple[ReceiptEvent, ...]

    def __post_init__(self) -> None:
        if not self.history:
            raise ValueError(f"purpose {self.purpose.code}: a receipt item needs an event")

    @property
    def current(self) -> ReceiptEvent:
        return self.history[-1]


@dataclass(frozen=True)
class ControllerContact:
    """The controller's contact points, from the settings."""

    contact: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class ReceiptData:
    controller: ControllerContact
    language: str
    subject_id: str
    policy_url: str
    items: tuple[ReceiptItem, ...]


def notice_path(version: str) -> str:
    """The portal's public page of a notice version (``?lang=`` picks the language)."""
    return f"/notice/{version}"


def _order(event: ReceiptEvent) -> tuple[datetime, str]:
    return event.occurred_at, event.event_id


def _purpose(item: ReceiptItem) -> dict[str, Any]:
    facts, now = item.purpose, item.current
    entry: dict[str, Any] = {
        "purpose": facts.title,
        "purposeCode": facts.code,
        "purposeCategory": [facts.category],
        "consentType": "EXPLICIT",
        "consentState": now.state.value,
        "piiCategory": facts.pii_categories,
        "primaryPurpose": False,
        "termination": termination(now.state, now.occurred_at, now.expires_at),
        "thirdPartyDisclosure": facts.third_party_sharing,
    }
    if facts.third_party_sharing:
        entry["thirdPartyName"] = "; ".join(facts.recipients)
    retention = facts.retention
    return {
        **entry,
        "lawfulBasis": facts.lawful_basis,
        "recipients": list(facts.recipients),
        "retention": {
            **(retention.as_json() if retention else {}),
            "text": retention_text(retention),
        },
        "children": facts.children,
        "history": [
            {
                "eventId": event.event_id,
                "state": event.state.value,
                "occurredAt": event.occurred_at.isoformat(),
                "collectionMethod": event.collection_method,
                "controller": event.controller,
            }
            for event in item.history
        ],
    }


def _record(item: ReceiptItem, event: ReceiptEvent) -> dict[str, Any]:
    return {
        "eventId": event.event_id,
        "purposeCode": item.purpose.code,
        "state": event.state.value,
        "occurredAt": event.occurred_at.isoformat(),
        "expiresAt": event.expires_at.isoformat() if event.expires_at else None,
        "collectionMethod": event.collection_method,
        "method": event.method.value,
        "channel": event.channel.value if event.channel else None,
        "controller": event.controller,
        "jurisdiction": event.jurisdiction,
        "noticeVersion": event.notice_version,
        "noticeDigest": event.notice_digest,
        "hash": event.hash,
        "prevHash": event.prev_hash,
    }


def build_receipt(data: ReceiptData) -> dict[str, Any]:
    """The Kantara CR 1.1 receipt of ``data`` (which must hold at least one item)."""
    if not data.items:
        raise ValueError("a consent receipt needs at least one recorded consent")
    events = sorted((e for item in data.items for e in item.history), key=_order, reverse=True)
    latest = events[0]
    controllers = list(dict.fromkeys(e.controller for e in events))  # the latest's first
    services: dict[str, list[dict[str, Any]]] = {}
    for item in data.items:
        services.setdefault(item.purpose.category, []).append(_purpose(item))
    sensitive = [item.purpose for item in data.items if item.purpose.sensitive]
    spi = [c for p in sensitive for c in (p.data_categories or (SPECIAL_CATEGORIES,))]
    hashes = sorted(e.hash for e in events)
    receipt_id = uuid.uuid5(RECEIPT_NAMESPACE, f"{data.subject_id}:{','.join(hashes)}")
    reach = data.controller
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": latest.jurisdiction,
        "consentTimestamp": int(latest.occurred_at.timestamp()),
        "collectionMethod": latest.collection_method,
        "consentReceiptID": str(receipt_id),
        "language": data.language,
        "piiPrincipalId": data.subject_id,
        "piiControllers": [
            {
                "piiController": name,
                "onBehalf": False,
                "contact": reach.contact,
                "email": reach.contact if "@" in reach.contact else "",
                "address": reach.address,
                "phone": reach.phone,
            }
            for name in controllers
        ],
        "policyUrl": data.policy_url,
        "services": [
            {"service": category, "purposes": purposes} for category, purposes in services.items()
        ],
        "sensitive": bool(sensitive),
        "spiCat": list(dict.fromkeys(spi)),
        "consentRecords": [_record(item, e) for item in data.items for e in item.history],
    }


class Subject(Protocol):
    """Who a receipt is for: a ``Contact`` or any row naming its subject id."""

    @property
    def subject_id(self) -> str: ...


def _facts(purpose: Purpose, language: str) -> PurposeFacts:
    return PurposeFacts(
        code=purpose.code,
        title=localized(purpose.titles, language, default=purpose.code),
        category=purpose.category,
        channel=purpose.channel,
        lawful_basis=purpose.lawful_basis,
        third_party_sharing=purpose.third_party_sharing,
        sensitive=purpose.sensitive,
        children=purpose.children,
        data_categories=tuple(purpose.data_categories),
        recipients=tuple(purpose.recipients),
        retention=purpose.retention_policy,
    )


def _event(event: ConsentEvent) -> ReceiptEvent:
    return ReceiptEvent(
        event_id=event.event_id,
        state=event.state,
        occurred_at=event.occurred_at,
        expires_at=event.expires_at,
        method=event.method,
        channel=event.channel,
        controller=event.controller,
        jurisdiction=event.jurisdiction,
        notice_version=event.notice_version,
        notice_digest=event.notice_digest,
        hash=event.hash,
        prev_hash=event.prev_hash,
        source=event.source,
    )


def load_receipt(
    session: Session, contact: Subject, settings: Settings, locale: str
) -> ReceiptData:
    """The receipt data of ``contact``'s whole consent history, titles in ``locale``.

    Per purpose, events in the order they happened (``occurred_at``, then the order
    they were appended): the last is the current state, as in the projection."""
    language = language_of(locale)
    rows = session.execute(
        select(ConsentEvent, Purpose)
        .join(Purpose, Purpose.id == ConsentEvent.purpose_id)
        .where(ConsentEvent.subject_id == contact.subject_id)
        .order_by(Purpose.id, ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    facts: dict[int, PurposeFacts] = {}
    history: dict[int, list[ReceiptEvent]] = {}
    for event, purpose in rows:
        if purpose.id not in facts:
            facts[purpose.id] = _facts(purpose, language)
        history.setdefault(purpose.id, []).append(_event(event))
    items = tuple(ReceiptItem(facts[pid], tuple(events)) for pid, events in history.items())
    base = settings.portal_base_url.rstrip("/")
    cited = [e for item in items for e in item.history if e.notice_version]
    latest = max(cited, key=_order, default=None)
    policy = f"{base}{notice_path(latest.notice_version or '')}?lang={language}" if latest else base
    return ReceiptData(
        controller=ControllerContact(
            contact=settings.controller_contact,
            address=settings.controller_address or "",
            phone=settings.controller_phone or "",
        ),
        language=language,
        subject_id=contact.subject_id,
        policy_url=policy,
        items=items,
    )
