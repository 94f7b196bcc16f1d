"""Reducing a person to what the suppression list needs: erasure and retention alike.

:func:`forget_identity` removes everything identifying from the contact (names,
addresses, their hashes, the municipality), marks it erased, crypto-shreds the
subject's evidence key (:mod:`reconsent.ledger.evidence_sealing`) and drops
the identifying values of their rights requests' evidence (client address,
browser). The caller has already suppressed the address hashes (they outlive
the identity: a re-import under another CRM id is never contacted); the
consent history stays, naming only the pseudonymous subject id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsRequest
from reconsent.kernel.rules.identifying_evidence import split
from reconsent.ledger.evidence_sealing import shred_subject_keys

__all__ = ["forget_identity"]


def forget_identity(session: Session, contact: Contact, now: datetime) -> int:
    """Null the contact's identity, set ``erased_at``, shred its evidence key; how many
    evidence keys were shredded (0 or 1)."""
    contact.given_name = contact.family_name = None
    contact.email = contact.phone = None
    contact.email_hash = contact.phone_hash = None
    contact.municipality = None
    contact.erased_at = now
    contact.updated_at = now
    for request in session.scalars(
        select(RightsRequest).where(RightsRequest.contact_id == contact.id)
    ):
        clear, identifying = split(request.evidence or {})
        if identifying:
            request.evidence = clear
    session.flush()
    return shred_subject_keys(session, [contact.subject_id], now)
