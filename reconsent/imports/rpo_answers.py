"""Importing an answer of Italy's Registro Pubblico delle Opposizioni (RPO).

The file is the register's answer to one consultation: ``phone,registered_at``
(the numbers found registered, with their registration dates). Importing it:

* records the consultation (its date is what ``rpo_not_consulted`` checks: an
  answer is valid for 15 days, D.P.R. 26/2022) and each registration by the
  number's keyed hash, never the number;
* binds at once: for every contact holding a registered number, each phone
  (call) consent given **before** the registration is INVALIDATED in the
  ledger, with the consultation as evidence, unless the contact has an active
  contract (``contract_exempt``); consents given after it stay valid. E-mail
  and SMS consents are never touched: the register covers calls.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose, RpoConsultation, RpoRegistration
from reconsent.db import SessionSource, unit_of_work
from reconsent.imports.batches import parse_batch
from reconsent.imports.csvfile import RawRow, read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import parse_customer_since, parse_phone
from reconsent.kernel.errors import InvalidRowError
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, Channel, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.ledger.key_check import checked_address_key
from reconsent.settings import Settings

__all__ = ["RPO_COLUMNS", "import_rpo"]

log = logging.getLogger(__name__)
RPO_COLUMNS = ("phone", "registered_at")
#: Who acts when the register revokes a consent.
RPO_ACTOR = "rpo"


def _parse(raw: RawRow, region: str, key: bytes) -> tuple[str, datetime]:
    number = raw.values.get("phone", "").strip()
    if not number:
        raise InvalidRowError("phone is required")
    when = parse_customer_since(raw.values.get("registered_at", ""))
    if when is None:
        raise InvalidRowError("registered_at is required (an ISO date)")
    digest = address_hash(key, AddressKind.PHONE, parse_phone(number, region))
    return digest, datetime.combine(when, time(0), tzinfo=UTC)


def import_rpo(
    engine: SessionSource,
    path: Path,
    settings: Settings,
    *,
    consulted_at: datetime,
    source: str,
    now: datetime,
) -> ImportReport:
    """Record one consultation and its registrations; invalidate what they revoke."""
    key, region = checked_address_key(engine, settings, now), settings.jurisdiction
    report = ImportReport(file=path.name)
    ctx = LedgerContext(
        controller=settings.controller_name, jurisdiction=settings.jurisdiction, now=now
    )
    with unit_of_work(engine) as session:
        consultation = RpoConsultation(
            consulted_at=consulted_at, source=source[:128], numbers=0, imported_at=now
        )
        session.add(consultation)
        session.flush()
        consultation_id = consultation.id
    seen: set[str] = set()
    for batch in read_batches(path, RPO_COLUMNS):
        rows = parse_batch(batch, lambda raw: _parse(raw, region, key), report)
        fresh = []
        for line, entry in rows:  # a number listed twice, even in one batch, counts once
            if entry[0] not in seen:
                seen.add(entry[0])
                fresh.append((line, entry))
        report.duplicates += len(rows) - len(fresh)
        if not fresh:
            continue
        with unit_of_work(engine) as session:
            for _line, (digest, registered_at) in fresh:
                session.add(
                    RpoRegistration(
                        consultation_id=consultation_id,
                        phone_hash=digest,
                        registered_at=registered_at,
                    )
                )
            _invalidate(session, dict(entry for _, entry in fresh), consultation_id, ctx)
        report.created += len(fresh)
    with unit_of_work(engine) as session:
        session.get_one(RpoConsultation, consultation_id).numbers = report.created
    report.errors.sort(key=lambda error: error.line)
    log.info("rpo import %s", report.summary())
    return report


def _invalidate(
    session: Session, registered: dict[str, datetime], consultation_id: int, ctx: LedgerContext
) -> None:
    """INVALIDATED events for the call consents given before each registration."""
    rows = session.execute(
        select(Contact, Purpose, ConsentStatus.occurred_at)
        .join(ConsentStatus, ConsentStatus.contact_id == Contact.id)
        .join(Purpose, Purpose.id == ConsentStatus.purpose_id)
        .where(
            Contact.phone_hash.in_(sorted(registered)),
            Contact.contract_exempt.is_(False),
            Contact.erased_at.is_(None),
            Purpose.channel == Channel.IVR,
            ConsentStatus.state == ConsentState.GIVEN,
        )
    ).all()
    events = []
    for contact, purpose, given_at in rows:
        registered_at = registered[str(contact.phone_hash)]
        if given_at >= registered_at:
            continue  # a consent given after the registration stays valid
        events.append(
            NewEvent(
                contact_id=contact.id,
                subject_id=contact.subject_id,
                purpose=purpose,
                state=ConsentState.INVALIDATED,
                occurred_at=ctx.now,
                method=CollectionMethod.IMPORTED,
                actor=RPO_ACTOR,
                channel=Channel.IVR,
                evidence={
                    "rpo_consultation": consultation_id,
                    "registered_at": registered_at.date().isoformat(),
                    "consent_given_at": given_at.isoformat(),
                },
                source="rpo",
            )
        )
    append_events(session, events, ctx)
