"""The proof of one person's consents: current state and the full event history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import ConsentEvent, ConsentStatus, Contact, Purpose, Suppression, SuppressionLift
from reconsent.kernel.errors import NotFoundError
from reconsent.ledger.evidence_sealing import EvidenceReader, shredded_at


def contact_proof(
    session: Session, external_id: str, evidence_key: bytes | None = None
) -> dict[str, Any]:
    contact = session.scalar(select(Contact).where(Contact.external_id == external_id))
    if contact is None:
        raise NotFoundError(f"no contact with external id {external_id!r}")
    return proof_of(session, contact, evidence_key)


def proof_of(
    session: Session, contact: Contact, evidence_key: bytes | None = None
) -> dict[str, Any]:
    """The proof of ``contact``: current state per purpose, every event, suppressions.

    Sealed evidence is opened with ``evidence_key`` (``Settings.evidence_wrapping_key``);
    an event whose subject's key was shredded shows ``evidence_shredded: true``, one read
    without the key ``evidence_sealed: true``. ``evidence_shredded`` at the top says the
    subject's identifying evidence was crypto-shredded (retention or erasure).
    """
    reader = EvidenceReader(session, evidence_key)
    codes = {pid: code for pid, code in session.execute(select(Purpose.id, Purpose.code))}
    current = [
        {
            "purpose": codes[s.purpose_id],
            "state": s.state.value,
            "occurred_at": s.occurred_at.isoformat(),
            "expires_at": s.expires_at.isoformat() if s.expires_at else None,
            "notice_version": s.notice_version,
            "provable": s.provable,
            "event_id": s.last_event_id,
        }
        for s in session.scalars(
            select(ConsentStatus)
            .where(ConsentStatus.contact_id == contact.id)
            .order_by(ConsentStatus.purpose_id)
        )
    ]
    events = [
        {
            "event_id": e.event_id,
            "purpose": codes[e.purpose_id],
            "state": e.state.value,
            "occurred_at": e.occurred_at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "expires_at": e.expires_at.isoformat() if e.expires_at else None,
            "method": e.method.value,
            "channel": e.channel.value if e.channel else None,
            "actor": e.actor,
            "controller": e.controller,
            "jurisdiction": e.jurisdiction,
            "language": e.language,
            "notice_version": e.notice_version,
            "notice_digest": e.notice_digest,
            "wave_id": e.wave_id,
            "request_id": e.request_id,
            "provider_message_id": e.provider_message_id,
            "evidence": reader.open(e.subject_id, e.event_id, e.evidence),
            "provable": e.provable,
            "source": e.source,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subject_id == contact.subject_id)
            .order_by(ConsentEvent.id)
        )
    ]
    hashes = [h for h in (contact.email_hash, contact.phone_hash) if h]
    suppressions = [
        _suppression_row(s, lifted_at, contact.id)
        for s, lifted_at in session.execute(
            select(Suppression, SuppressionLift.lifted_at)
            .outerjoin(SuppressionLift, SuppressionLift.suppression_id == Suppression.id)
            .where(or_(Suppression.contact_id == contact.id, Suppression.address_hash.in_(hashes)))
            .order_by(Suppression.id)
        )
    ]
    return {
        "external_id": contact.external_id,
        "subject_id": contact.subject_id,
        "locale": contact.locale,
        "erased": contact.erased_at is not None,
        "evidence_shredded": shredded_at(session, contact.subject_id) is not None,
        "current": current,
        "events": events,
        "suppressions": suppressions,
    }


#: What a person is shown of a suppression another person's request put on an address
#: they share (a family e-mail): that it is there, never whose or why.
SHARED_ADDRESS = "shared_address"


def _suppression_row(s: Suppression, lifted_at: datetime | None, contact_id: int) -> dict[str, Any]:
    theirs = s.contact_id is not None and s.contact_id != contact_id
    return {
        "reason": SHARED_ADDRESS if theirs else s.reason.value,
        "channel": s.channel.value if s.channel else None,
        "created_at": s.created_at.isoformat(),
        "source": SHARED_ADDRESS if theirs else s.source,
        "lifted_at": lifted_at.isoformat() if lifted_at is not None else None,
    }
