"""Requests received by an operator: a phone call, an e-mail to the DPO, a letter.

The person is found by their CRM id, or by an address we hold (normalised as
imports do, matched by its keyed hash: the address itself is never searched in
clear nor logged). The request is recorded open, due one month after it was
*received* (not typed in), with evidence naming the operator and the channel
of receipt; the operator acts on it once they have checked who asked
(art. 12(6)): ``reconsent rights complete / decline / extend``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsRequest
from reconsent.kernel.errors import AddressError, DecisionError, NotFoundError
from reconsent.kernel.rules.addresses import address_hash, normalise_email, normalise_phone
from reconsent.kernel.vocab import AddressKind, RightsKind
from reconsent.rights.subject_requests import (
    RECTIFIABLE,
    Origin,
    record_rights_request,
    request_rectification,
)

__all__ = ["RECEIVED_VIA", "add_request", "find_contact"]

#: How an operator received a request.
RECEIVED_VIA = ("phone", "email", "letter")


def find_contact(
    session: Session,
    *,
    external_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    key: bytes,
    region: str = "IT",
) -> Contact:
    """The one contact named by CRM id, e-mail or phone (exactly one must be given)."""
    given = [v for v in (external_id, email, phone) if v]
    if len(given) != 1:
        raise DecisionError("name the person with one of --contact, --email or --phone")
    if external_id:
        found = session.scalar(select(Contact).where(Contact.external_id == external_id))
        if found is None:
            raise NotFoundError(f"no contact with id {external_id!r}")
        return found
    try:
        if email:
            digest = address_hash(key, AddressKind.EMAIL, normalise_email(email))
            where = Contact.email_hash == digest
        else:
            assert phone is not None
            digest = address_hash(key, AddressKind.PHONE, normalise_phone(phone, region))
            where = Contact.phone_hash == digest
    except AddressError:
        raise DecisionError("that address is not valid") from None
    rows = list(session.scalars(select(Contact).where(where, Contact.erased_at.is_(None))))
    if not rows:
        raise NotFoundError("no contact holds that address")
    if len(rows) > 1:
        ids = ", ".join(sorted(r.external_id for r in rows))
        raise DecisionError(f"several contacts hold that address ({ids}): name one with --contact")
    return rows[0]


def add_request(
    session: Session,
    *,
    contact: Contact,
    kind: RightsKind,
    received_via: str,
    received_at: datetime,
    operator: str,
    now: datetime,
    note: str | None = None,
    corrections: dict[str, str] | None = None,
) -> RightsRequest:
    """Record an open request as received at ``received_at`` (due a month after it)."""
    if received_via not in RECEIVED_VIA:
        raise DecisionError(f"--received-via is one of {', '.join(RECEIVED_VIA)}")
    if received_at > now:
        raise DecisionError("a request cannot be received in the future")
    if kind is RightsKind.LINK_RENEWAL:
        raise DecisionError("a link renewal is asked from an expired link, not recorded by hand")
    if contact.erased_at is not None:
        raise DecisionError("this person was erased: there is nothing left to act on")
    evidence: dict[str, Any] = {
        "operator": operator,
        "received_via": received_via,
        "recorded_at": now.isoformat(),
    }
    origin = Origin(evidence=evidence)
    details = {"note": note.strip()} if note and note.strip() else {}
    if kind is RightsKind.RECTIFICATION:
        unknown = sorted(set(corrections or {}) - set(RECTIFIABLE))
        if unknown:
            raise DecisionError(f"cannot correct {', '.join(unknown)} ({', '.join(RECTIFIABLE)})")
        row, _ = request_rectification(
            session, contact=contact, corrections=corrections or {}, now=received_at, origin=origin
        )
        if details:
            row.details = {**row.details, **details}
        return row
    if corrections:
        raise DecisionError("--correct is for a rectification")
    row, _ = record_rights_request(
        session, contact=contact, kind=kind, now=received_at, origin=origin, details=details
    )
    return row
