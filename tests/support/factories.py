"""Small builders for test data, written straight to the database."""

from __future__ import annotations

import uuid
import zlib
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from models import Contact, Notice, Purpose, RpoConsultation, Wave, WaveRequest
from reconsent.campaigns.waves import create_wave
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestBasis,
    RequestStatus,
)
from reconsent.kernel.waveconfig import WaveConfig, parse_wave_config
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, append_events
from tests.support.evidence import wrapping_key

ADDRESS_KEY = b"test-address-key"
#: The wrapping key of ``make_settings``'s RECONSENT_EVIDENCE_KEY (tests/support/evidence.py).
EVIDENCE = wrapping_key()

PURPOSES: list[dict[str, Any]] = [
    {
        "code": "marketing_email",
        "channel": Channel.EMAIL,
        "titles": {"it": "Offerte via email", "en": "Offers by email"},
    },
    {
        "code": "marketing_sms",
        "channel": Channel.SMS,
        "titles": {"it": "Offerte via SMS", "en": "Offers by SMS"},
    },
    {
        "code": "marketing_phone",
        "channel": Channel.IVR,
        "titles": {"it": "Offerte per telefono", "en": "Offers by phone"},
    },
    {"code": "profiling", "channel": None, "titles": {"it": "Profilazione", "en": "Profiling"}},
]
#: The purposes bound to a channel, by channel.
CHANNEL_PURPOSES = {
    Channel.EMAIL: "marketing_email",
    Channel.SMS: "marketing_sms",
    Channel.IVR: "marketing_phone",
}


def add_catalog(
    session: Session, now: datetime, versions: tuple[str, ...] = ("2024-01", "2026-09")
) -> dict[str, Purpose]:
    purposes = {}
    for spec in PURPOSES:
        purpose = Purpose(
            code=spec["code"],
            category="marketing",
            channel=spec["channel"],
            lifetime_months=24,
            titles=spec["titles"],
            descriptions={"it": f"Descrizione {spec['code']}", "en": f"About {spec['code']}"},
            created_at=now,
        )
        session.add(purpose)
        purposes[purpose.code] = purpose
    for version in versions:
        for locale in ("it", "en"):
            session.add(
                Notice(
                    version=version,
                    locale=locale,
                    title=f"Notice {version} ({locale})",
                    body_html=f"<p>Notice {version} {locale}</p>",
                    digest=uuid.uuid5(uuid.NAMESPACE_URL, f"{version}/{locale}").hex * 2,
                    published_at=now,
                    effective_from=now,
                )
            )
    # The test base was checked against Italy's RPO today (nobody registered): calls to
    # Italian numbers need that (tests of the register add their own consultations).
    session.add(RpoConsultation(consulted_at=now, source="test", numbers=0, imported_at=now))
    session.flush()
    return purposes


#: "Give the contact an address of its own" (derived from its external id): contacts
#: sharing an address are one person for a wave, so a shared default would make every
#: contact of a test the same person.
OWN = "own"


def own_email(external_id: str) -> str:
    return f"{external_id.lower()}@example.com"


def own_phone(external_id: str) -> str:
    """An Italian mobile number derived from the external id (stable across runs)."""
    return f"+39333{zlib.crc32(external_id.encode()) % 10_000_000:07d}"


def add_contact(
    session: Session,
    now: datetime,
    external_id: str,
    *,
    email: str | None = OWN,
    phone: str | None = OWN,
    locale: str = "it",
    timezone: str = "Europe/Rome",
    given_name: str = "Giulia",
    customer_since: date | None = None,
    municipality: str | None = None,
    flush: bool = True,
) -> Contact:
    email = own_email(external_id) if email == OWN else email
    phone = own_phone(external_id) if phone == OWN else phone
    contact = Contact(
        external_id=external_id,
        subject_id=str(uuid.uuid4()),
        given_name=given_name,
        family_name="Rossi",
        email=email,
        email_hash=address_hash(ADDRESS_KEY, AddressKind.EMAIL, email) if email else None,
        phone=phone,
        phone_hash=address_hash(ADDRESS_KEY, AddressKind.PHONE, phone) if phone else None,
        locale=locale,
        timezone=timezone,
        customer_since=customer_since,
        municipality=municipality,
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    if flush:
        session.flush()
    return contact


def record(
    session: Session,
    now: datetime,
    contact: Contact,
    purpose: Purpose,
    state: ConsentState,
    occurred_at: datetime,
    *,
    notice_version: str | None = "2026-09",
    method: CollectionMethod = CollectionMethod.IMPORTED,
    provable: bool = True,
    channel: Channel | None = None,
    evidence: dict[str, Any] | None = None,
) -> None:
    append_events(
        session,
        [
            NewEvent(
                contact_id=contact.id,
                subject_id=contact.subject_id,
                purpose=purpose,
                state=state,
                occurred_at=occurred_at,
                method=method,
                actor="test",
                notice=NoticeRef(None, notice_version, None) if notice_version else None,
                provable=provable,
                channel=channel,
                evidence=dict(evidence or {}),
            )
        ],
        LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now, evidence_key=EVIDENCE),
    )


def consent_to_channels(
    session: Session,
    now: datetime,
    contact: Contact,
    purposes: dict[str, Purpose],
    occurred_at: datetime,
    channels: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS, Channel.IVR),
) -> None:
    """A provable consent to each channel's purpose, given at ``occurred_at`` (e.g. a stale
    one): the person may lawfully be asked on every one of those channels."""
    for channel in channels:
        record(
            session,
            now,
            contact,
            purposes[CHANNEL_PURPOSES[channel]],
            ConsentState.GIVEN,
            occurred_at,
            notice_version="2024-01",
        )


def wave_config(**overrides: Any) -> WaveConfig:
    data: dict[str, Any] = {
        "name": "Test wave",
        "purposes": ["marketing_email", "marketing_sms", "marketing_phone"],
        "notice_version": "2026-09",
        "stale": {"stale_after_days": 365, "old_notice_versions": ["2024-01"]},
        "lawful_basis": {"email": "soft_spam"},
        "steps": [
            {"channel": "email", "wait": "3d"},
            {"channel": "sms", "wait": "2d"},
            {"channel": "ivr", "wait": "1d"},
        ],
    }
    data.update(overrides)
    return parse_wave_config(data)


def add_wave(session: Session, now: datetime, **overrides: Any) -> Wave:
    return create_wave(session, wave_config(**overrides), now)


def add_request(session: Session, now: datetime, wave: Wave, contact: Contact) -> WaveRequest:
    request = WaveRequest(
        wave_id=wave.id,
        contact_id=contact.id,
        status=RequestStatus.ACTIVE,
        basis=RequestBasis.PRIOR_CONSENT,
        step_index=0,
        next_action_at=now,
        created_at=now,
    )
    session.add(request)
    session.flush()
    return request
