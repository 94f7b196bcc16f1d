"""Consent receipts shaped as Kantara Initiative Consent Receipt 1.1 (``KI-CR-v1.1.0``).

``build_receipt`` is a pure function over :class:`ReceiptData`; ``load_receipt``
reads that data for one contact from the ledger (the consent-status
projection and the event each state comes from).  The receipt covers the
person's current state for every purpose on record; each purpose carries its
code and state, and ``consentRecords`` lists the supporting ledger events with
their hash-chain values, so the receipt can be checked against the ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.campaigns.notices import localized
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import Channel, ConsentState
from reconsent.settings import Settings

RECEIPT_VERSION = "KI-CR-v1.1.0"
#: Namespace of the receipt id: the same ledger state always yields the same id.
RECEIPT_NAMESPACE = uuid.UUID("8f1f9a52-2b1e-5d0c-9a43-7c4b8e0f6d21")
PII_CATEGORIES: dict[Channel | None, list[str]] = {
    Channel.EMAIL: ["contact details: e-mail address"],
    Channel.SMS: ["contact details: mobile phone number"],
    Channel.IVR: ["contact details: phone number"],
    None: ["contact details", "preferences"],
}

__all__ = [
    "RECEIPT_VERSION",
    "ReceiptData",
    "ReceiptItem",
    "build_receipt",
    "load_receipt",
    "notice_path",
]


@dataclass(frozen=True)
class ReceiptItem:
    """One purpose's current state and the ledger event it comes from."""

    purpose_code: str
    purpose_title: str
    category: str
    purpose_channel: Channel | None
    state: ConsentState
    occurred_at: datetime
    expires_at: datetime | None
    method: str
    channel: str | None
    notice_version: str | None
    notice_digest: str | None
    event_id: str
    hash: str
    prev_hash: str | None


@dataclass(frozen=True)
class ReceiptData:
    controller_name: str
    controller_contact: str
    jurisdiction: str
    language: str
    subject_id: str
    policy_url: str
    items: tuple[ReceiptItem, ...]


def notice_path(version: str) -> str:
    """The portal's public page of a notice version (``?lang=`` picks the language)."""
    return f"/notice/{version}"


def _termination(item: ReceiptItem) -> str:
    if item.state is ConsentState.GIVEN:
        until = f" or until {item.expires_at.date().isoformat()}" if item.expires_at else ""
        return f"Until withdrawn{until}; withdraw at any time from the consent portal."
    return f"Not in force: {item.state.value} on {item.occurred_at.date().isoformat()}."


def _collection_method(item: ReceiptItem) -> str:
    return f"{item.method} via {item.channel}" if item.channel else item.method


def build_receipt(data: ReceiptData) -> dict[str, Any]:
    """The Kantara CR 1.1 receipt of ``data`` (which must hold at least one item)."""
    if not data.items:
        raise ValueError("a consent receipt needs at least one recorded consent")
    latest = max(data.items, key=lambda i: (i.occurred_at, i.event_id))
    services: dict[str, list[dict[str, Any]]] = {}
    for item in data.items:
        services.setdefault(item.category, []).append(
            {
                "purpose": item.purpose_title,
                "purposeCode": item.purpose_code,
                "purposeCategory": [item.category],
                "consentType": "EXPLICIT",
                "consentState": item.state.value,
                "piiCategory": list(PII_CATEGORIES[item.purpose_channel]),
                "primaryPurpose": False,
                "termination": _termination(item),
                "thirdPartyDisclosure": False,
            }
        )
    hashes = sorted(item.hash for item in data.items)
    receipt_id = uuid.uuid5(RECEIPT_NAMESPACE, f"{data.subject_id}:{','.join(hashes)}")
    contact = data.controller_contact
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": data.jurisdiction,
        "consentTimestamp": int(latest.occurred_at.timestamp()),
        "collectionMethod": _collection_method(latest),
        "consentReceiptID": str(receipt_id),
        "language": data.language,
        "piiPrincipalId": data.subject_id,
        "piiControllers": [
            {
                "piiController": data.controller_name,
                "onBehalf": False,
                "contact": contact,
                "email": contact if "@" in contact else "",
                "address": "",
                "phone": "",
            }
        ],
        "policyUrl": data.policy_url,
        "services": [
            {"service": category, "purposes": purposes} for category, purposes in services.items()
        ],
        "sensitive": False,
        "spiCat": [],
        "consentRecords": [
            {
                "eventId": item.event_id,
                "purposeCode": item.purpose_code,
                "state": item.state.value,
                "occurredAt": item.occurred_at.isoformat(),
                "expiresAt": item.expires_at.isoformat() if item.expires_at else None,
                "noticeVersion": item.notice_version,
                "noticeDigest": item.notice_digest,
                "hash": item.hash,
                "prevHash": item.prev_hash,
            }
            for item in data.items
        ],
    }


class Subject(Protocol):
    """Who a receipt is for: a ``Contact`` or any row naming its id and subject id."""

    @property
    def id(self) -> int: ...

    @property
    def subject_id(self) -> str: ...


def load_receipt(
    session: Session, contact: Subject, settings: Settings, locale: str
) -> ReceiptData:
    """The receipt data of ``contact``'s current consents, purpose titles in ``locale``."""
    language = language_of(locale)
    rows = session.execute(
        select(ConsentStatus, ConsentEvent, Purpose)
        .join(ConsentEvent, ConsentEvent.id == ConsentStatus.last_event_id)
        .join(Purpose, Purpose.id == ConsentStatus.purpose_id)
        .where(ConsentStatus.contact_id == contact.id)
        .order_by(Purpose.id)
    ).all()
    items = tuple(
        ReceiptItem(
            purpose_code=purpose.code,
            purpose_title=localized(purpose.titles, language, default=purpose.code),
            category=purpose.category,
            purpose_channel=purpose.channel,
            state=status.state,
            occurred_at=status.occurred_at,
            expires_at=status.expires_at,
            method=event.method.value,
            channel=event.channel.value if event.channel else None,
            notice_version=event.notice_version,
            notice_digest=event.notice_digest,
            event_id=event.event_id,
            hash=event.hash,
            prev_hash=event.prev_hash,
        )
        for status, event, purpose in rows
    )
    base = settings.portal_base_url.rstrip("/")
    versions = [i for i in items if i.notice_version]
    latest = max(versions, key=lambda i: i.occurred_at, default=None)
    policy = f"{base}{notice_path(latest.notice_version or '')}?lang={language}" if latest else base
    return ReceiptData(
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        jurisdiction=settings.jurisdiction,
        language=language,
        subject_id=contact.subject_id,
        policy_url=policy,
        items=items,
    )
