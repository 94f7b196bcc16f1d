"""Data-subject rights (GDPR art. 15-21) without HTTP: record, restrict, object, erase.

The consent portal's rights centre comes here; everything runs in the
caller's unit of work.  Every request becomes a ``rights_requests`` row with
its due date (one calendar month after receipt, art. 12(3)), shown to
operators by ``reconsent rights list``.

* access and portability are answered at once (the export is
  :mod:`reconsent.ledger.portability`); the row records that they were;
* rectification is recorded for an operator to apply, never applied
  automatically (a correction of an address must be checked);
* restriction (art. 18) sets ``contacts.restricted_at``: planning and the
  send-time gate skip the person;
* objection (art. 21) is :func:`reconsent.ledger.objections.record_objection`:
  every given consent withdrawn and a suppression on every channel, at once;
* erasure (art. 17) removes the identity (names, e-mail, phone), keeps the
  address hashes in the suppression list (reason ``erasure``, every
  channel) so the person is never contacted again, even re-imported under
  another id, and keeps the consent history, which names only the
  pseudonymous subject id (the proof of consent, art. 7(1) and 17(3)).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsRequest
from reconsent.crm_outbox.event_payloads import enqueue_rights_request
from reconsent.crm_outbox.outbox_writes import subscriptions
from reconsent.kernel.crm_events import EventType
from reconsent.kernel.errors import DecisionError, NotFoundError
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    RightsKind,
    RightsStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.identity_minimisation import forget_identity
from reconsent.ledger.objections import record_objection
from reconsent.rights.history import log_step
from reconsent.rights.transitions import PASSED_ON_KINDS, due_date

#: The fields a person may ask to correct, with their longest accepted value.
RECTIFIABLE: dict[str, int] = {
    "given_name": 200,
    "family_name": 200,
    "email": 320,
    "phone": 40,
    "note": 2000,
}
#: What replaces personal data in a request's details after an erasure.
REDACTED: dict[str, Any] = {"redacted": True}

__all__ = [
    "NO_ORIGIN",
    "RECTIFIABLE",
    "Origin",
    "close_rights_request",
    "due_date",
    "erase_contact",
    "object_to_marketing",
    "record_rights_request",
    "request_rectification",
    "restrict_contact",
    "rights_dedupe_key",
    "tell_crm",
]


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the link's wave request and channel, and evidence."""

    request_id: int | None = None
    channel: Channel | None = None
    evidence: dict[str, Any] | None = None
    #: The form's single-use nonce: the same form posted twice records one request.
    nonce: str | None = None


#: No link, no evidence: a request recorded by an operator or a test.
NO_ORIGIN = Origin()


def rights_dedupe_key(kind: RightsKind, nonce: str) -> str:
    return hashlib.sha256(f"rights:{kind.value}:{nonce}".encode()).hexdigest()


def record_rights_request(
    session: Session,
    *,
    contact: Contact,
    kind: RightsKind,
    now: datetime,
    origin: Origin = NO_ORIGIN,
    details: dict[str, Any] | None = None,
    completed: bool = False,
) -> tuple[RightsRequest, bool]:
    """Record one request; returns it and whether it was a replay of the same form."""
    key = rights_dedupe_key(kind, origin.nonce) if origin.nonce else None
    if key is not None:
        earlier = session.scalar(select(RightsRequest).where(RightsRequest.dedupe_key == key))
        if earlier is not None:
            return earlier, True
    row = RightsRequest(
        contact_id=contact.id,
        subject_id=contact.subject_id,
        kind=kind,
        status=RightsStatus.COMPLETED if completed else RightsStatus.OPEN,
        details=dict(details or {}),
        received_at=now,
        due_at=due_date(now),
        completed_at=now if completed else None,
        channel=origin.channel,
        request_id=origin.request_id,
        evidence=dict(origin.evidence or {}),
        dedupe_key=key,
    )
    session.add(row)
    session.flush()
    log_step(session, row, "received", now, actor=_actor(origin), details=_received(origin))
    if completed:
        log_step(session, row, "completed", now, actor=_actor(origin))
    _tell_crm(session, [row], EventType.RIGHTS_REQUEST_CREATED, now)
    if completed:
        _tell_crm(session, [row], EventType.RIGHTS_REQUEST_COMPLETED, now)
    return row, False


def _actor(origin: Origin) -> str | None:
    """Who received the request: the operator an intake names, else the portal's link."""
    operator = (origin.evidence or {}).get("operator")
    if operator:
        return str(operator)
    return "portal" if origin.request_id is not None or origin.nonce else None


def _received(origin: Origin) -> dict[str, Any]:
    via = (origin.evidence or {}).get("received_via")
    if via:
        return {"received_via": via}
    return {"channel": origin.channel.value} if origin.channel else {}


def _tell_crm(
    session: Session, rows: list[RightsRequest], event_type: EventType, now: datetime
) -> None:
    """The CRM's ``rights.request.*`` deliveries, in this transaction; for a correction,
    an erasure, a restriction or an objection the endpoints told are listed on the
    request (art. 19: the recipients the controller informed)."""
    conn = session.connection()
    subs = subscriptions(conn)
    if not subs.wants(event_type):
        return
    enqueue_rights_request(conn, rows, event_type, now, subs)
    endpoints = subs.targets(event_type)
    for row in rows:
        if row.kind in PASSED_ON_KINDS:
            details = {"recipient": "crm", "event": str(event_type), "endpoints": endpoints}
            log_step(session, row, "passed_on", now, details=details)


def tell_crm(
    session: Session, rows: list[RightsRequest], event_type: EventType, now: datetime
) -> None:
    """:func:`_tell_crm` for the operator's workflow (:mod:`reconsent.rights.workflow`)."""
    _tell_crm(session, rows, event_type, now)


def close_rights_request(
    session: Session, request_id: int, *, decline: bool, now: datetime
) -> RightsRequest:
    """Close an open request (completed, or declined: not carried out); a closed one is
    returned as it is. The CRM hears ``rights.request.completed`` / ``.declined``."""
    row = session.get(RightsRequest, request_id)
    if row is None:
        raise NotFoundError(f"rights request {request_id} does not exist")
    if row.status is RightsStatus.OPEN:
        row.status = RightsStatus.DECLINED if decline else RightsStatus.COMPLETED
        row.completed_at = now
        log_step(session, row, row.status.value, now)
        session.flush()
        kind = EventType.RIGHTS_REQUEST_DECLINED if decline else EventType.RIGHTS_REQUEST_COMPLETED
        _tell_crm(session, [row], kind, now)
    return row


def request_rectification(
    session: Session,
    *,
    contact: Contact,
    corrections: dict[str, str],
    now: datetime,
    origin: Origin = NO_ORIGIN,
) -> tuple[RightsRequest, bool]:
    """Record the corrections asked for (an operator applies them); never applied here."""
    wanted = {
        name: value.strip()[:limit]
        for name, limit in RECTIFIABLE.items()
        if (value := corrections.get(name, "")) and value.strip()
    }
    if not wanted:
        raise DecisionError("no correction was asked for: nothing is recorded")
    return record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.RECTIFICATION,
        now=now,
        origin=origin,
        details={"corrections": wanted},
    )


def restrict_contact(
    session: Session, *, contact: Contact, now: datetime, origin: Origin = NO_ORIGIN
) -> tuple[RightsRequest, bool]:
    """Art. 18: from now on no wave contacts the person (lifted only by an operator)."""
    row, replay = record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.RESTRICTION,
        now=now,
        origin=origin,
        completed=True,
    )
    if contact.restricted_at is None:
        contact.restricted_at = now
        contact.updated_at = now
    return row, replay


def object_to_marketing(
    session: Session, *, contact: Contact, ctx: LedgerContext, origin: Origin = NO_ORIGIN
) -> tuple[RightsRequest, bool]:
    """Art. 21: withdraw every given consent and suppress every channel, at once."""
    row, replay = record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.OBJECTION,
        now=ctx.now,
        origin=origin,
        completed=True,
    )
    if not replay:
        _withdraw_and_suppress(session, contact, row, origin, ctx, SuppressionReason.OBJECTION)
    return row, replay


def _withdraw_and_suppress(
    session: Session,
    contact: Contact,
    row: RightsRequest,
    origin: Origin,
    ctx: LedgerContext,
    reason: SuppressionReason,
) -> None:
    """Withdraw every given consent and suppress every channel, naming the rights request
    (taken by an operator: method ``operator``, else the portal's)."""
    by_operator = bool((origin.evidence or {}).get("operator"))
    record_objection(
        session,
        request_id=origin.request_id,
        contact_id=contact.id,
        method=CollectionMethod.OPERATOR if by_operator else CollectionMethod.PORTAL,
        channel=origin.channel,
        evidence={**(origin.evidence or {}), "rights_request": row.id},
        ctx=ctx,
        reason=reason,
    )


def erase_contact(
    session: Session, *, contact: Contact, ctx: LedgerContext, origin: Origin = NO_ORIGIN
) -> tuple[RightsRequest, bool]:
    """Art. 17: remove the person's identity; keep the suppression hashes and the ledger.

    In order: every given consent is withdrawn and the contact suppressed on
    every channel (reason ``erasure``, as an objection would); each address
    hash gets its own every-channel ``erasure`` suppression row; names,
    addresses, their hashes and the municipality are nulled on the contact,
    ``erased_at`` set, the evidence key shredded (``forget_identity``);
    corrections asked earlier (personal data) are redacted.  Calling it again
    for an erased contact changes nothing.
    """
    if contact.erased_at is not None:
        earlier = session.scalar(
            select(RightsRequest)
            .where(RightsRequest.contact_id == contact.id, RightsRequest.kind == RightsKind.ERASURE)
            .order_by(RightsRequest.id.desc())
            .limit(1)
        )
        if earlier is not None:
            return earlier, True
    row, replay = record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.ERASURE,
        now=ctx.now,
        origin=origin,
        completed=True,
    )
    if replay or contact.erased_at is not None:
        return row, True
    # Every given consent withdrawn, the contact suppressed on every channel, and each
    # of its addresses on the channels that address serves (the hashes outlive the
    # identity: a re-import of the same addresses is never contacted on them).
    _withdraw_and_suppress(session, contact, row, origin, ctx, SuppressionReason.ERASURE)
    hashes = [h for h in (contact.email_hash, contact.phone_hash) if h]
    forget_identity(session, contact, ctx.now)  # also crypto-shreds the evidence key
    row.details = {"suppressed_addresses": len(hashes)}
    declined: list[RightsRequest] = []
    for earlier in session.scalars(
        select(RightsRequest).where(
            RightsRequest.contact_id == contact.id,
            RightsRequest.kind == RightsKind.RECTIFICATION,
        )
    ):
        earlier.details = dict(REDACTED)
        if earlier.status is RightsStatus.OPEN:
            earlier.status = RightsStatus.DECLINED
            earlier.completed_at = ctx.now
            declined.append(earlier)
    session.flush()
    _tell_crm(session, declined, EventType.RIGHTS_REQUEST_DECLINED, ctx.now)
    return row, False
