"""An operator acting on a rights request: extend, complete, decline, lift a restriction.

Each function runs in the caller's unit of work, checks the move with the pure
rules of :mod:`reconsent.rights.transitions`, writes it with its history step
(:mod:`reconsent.rights.history`), tells the CRM (``rights.request.*``, listed
on the request for art. 19) and queues the one notice to the person
(:mod:`reconsent.rights.notice_sending`; the caller sends it after the commit).

Completing an open erasure, objection or restriction carries it out (a request
taken by phone or letter is acted on once the operator has checked who asked):
the objection and the restriction on this request; the erasure through
:func:`reconsent.rights.subject_requests.erase_contact` (its own completed
``erasure`` row, naming this one), after the notice's address was read.

Running the same command again changes nothing and queues nothing more: the
caller's send then retries only a notice still pending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, RightsRequest
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
from reconsent.ledger.objections import record_objection
from reconsent.rights.history import history_of, log_step
from reconsent.rights.notice_sending import queue_notice
from reconsent.rights.subject_requests import (
    Origin,
    erase_contact,
    tell_crm,
)
from reconsent.rights.transitions import (
    NOTIFIED_KINDS,
    PASSED_ON_KINDS,
    RequestState,
    check_close,
    check_extend,
    notice_channel,
)

__all__ = ["close_request", "extend_request", "get_request", "lift_restriction", "state_of"]

log = logging.getLogger(__name__)


def get_request(session: Session, request_id: int, *, lock: bool = False) -> RightsRequest:
    """The request (``lock``: its row locked until the commit on PostgreSQL, so two
    operators acting on it at once act one after the other)."""
    row = session.get(RightsRequest, request_id, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFoundError(f"rights request {request_id} does not exist")
    return row


def state_of(row: RightsRequest) -> RequestState:
    return RequestState(row.kind, row.status, row.received_at, row.due_at, row.extension_months)


def extend_request(
    session: Session,
    request_id: int,
    *,
    months: int,
    reason: str,
    actor: str | None,
    now: datetime,
) -> RightsRequest:
    """Art. 12(3): one or two more months, once, before the due date, with the reason
    told to the person. Again with the same months: the request as it is."""
    row = get_request(session, request_id, lock=True)
    if row.extension_months == months and row.extension_reason == reason.strip():
        return row  # a retry of this very extension
    new_due = check_extend(state_of(row), months, reason, now)
    before = row.due_at
    row.due_at, row.extension_months = new_due, months
    row.extension_reason, row.extended_at = reason.strip(), now
    details = {"due_before": before.isoformat(), "due_after": new_due.isoformat()}
    log_step(session, row, "extended", now, actor=actor, details={**details, "months": months})
    contact = session.get_one(Contact, row.contact_id)
    queue_notice(session, row, contact, "extended", now, target=_address_of(contact))
    log.info("rights request %s extended by %s months", row.id, months)
    return row


def close_request(
    session: Session,
    request_id: int,
    *,
    decline: bool,
    reason: str | None,
    actor: str | None,
    ctx: LedgerContext,
    processors: Sequence[str] = (),
) -> RightsRequest:
    """Complete (carrying out an erasure, objection or restriction) or decline with
    its reason (art. 12(4)); the person is told. ``processors``: the providers that
    process the person's addresses for us, listed on the request as still to be told
    of an erasure or a correction (art. 19; their DPA says how)."""
    row = get_request(session, request_id, lock=True)
    wanted = RightsStatus.DECLINED if decline else RightsStatus.COMPLETED
    if row.status is wanted:
        return row  # a retry: the notice queued the first time is all there is to send
    status = check_close(state_of(row), decline=decline, reason=reason)
    contact = session.get_one(Contact, row.contact_id)
    # Read before an erasure removes it: the address the outcome is told to.
    target = _address_of(contact)
    if status is RightsStatus.COMPLETED:
        _carry_out(session, row, contact, actor, ctx)
    row.status, row.completed_at = status, ctx.now
    row.outcome_reason = (reason or "").strip() or None
    log_step(session, row, status.value, ctx.now, actor=actor)
    session.flush()
    event = EventType.RIGHTS_REQUEST_DECLINED if decline else EventType.RIGHTS_REQUEST_COMPLETED
    tell_crm(session, [row], event, ctx.now)
    if status is RightsStatus.COMPLETED and row.kind in PASSED_ON_KINDS:
        for name in processors if row.kind in _PROCESSOR_KINDS else ():
            details = {"recipient": "processor", "name": name, "how": "manual, under its DPA"}
            log_step(session, row, "to_pass_on", ctx.now, actor=actor, details=details)
    if row.kind in NOTIFIED_KINDS:
        queue_notice(session, row, contact, status.value, ctx.now, target=target)
    return row


#: What the processors (SendGrid, Twilio) keep of an address is the address itself.
_PROCESSOR_KINDS = frozenset({RightsKind.ERASURE, RightsKind.RECTIFICATION})


def _carry_out(
    session: Session, row: RightsRequest, contact: Contact, actor: str | None, ctx: LedgerContext
) -> None:
    if row.kind is RightsKind.RECTIFICATION and "applied" not in row.details:
        # Corrected elsewhere (the CRM): recorded as such; `apply-rectification` corrects here.
        log_step(session, row, "not_applied_here", ctx.now, actor=actor)
    if row.kind is RightsKind.RESTRICTION and contact.restricted_at is None:
        contact.restricted_at = contact.updated_at = ctx.now
        log_step(session, row, "restricted", ctx.now, actor=actor)
    elif row.kind is RightsKind.OBJECTION:
        record_objection(
            session,
            request_id=None,
            contact_id=contact.id,
            method=CollectionMethod.OPERATOR,
            channel=None,
            evidence={"rights_request": row.id, **({"operator": actor} if actor else {})},
            ctx=ctx,
            reason=SuppressionReason.OBJECTION,
        )
        log_step(session, row, "objection_recorded", ctx.now, actor=actor)
    elif row.kind is RightsKind.ERASURE and contact.erased_at is None:
        origin = Origin(
            evidence={"rights_request": row.id, **({"operator": actor} if actor else {})}
        )
        erased, _ = erase_contact(session, contact=contact, ctx=ctx, origin=origin)
        row.details = {"carried_out_as": erased.id}
        log_step(
            session, row, "erased", ctx.now, actor=actor, details={"erasure_request": erased.id}
        )


def lift_restriction(
    session: Session,
    *,
    request_id: int | None = None,
    contact_id: int | None = None,
    reason: str | None,
    actor: str | None,
    now: datetime,
) -> RightsRequest:
    """Lift a restriction (art. 18): the person is plannable again, and told (art. 18(3)).

    Named by its request, or by the contact (their latest restriction request)."""
    if request_id is not None:
        row = get_request(session, request_id, lock=True)
        if row.kind is not RightsKind.RESTRICTION:
            raise DecisionError(
                f"rights request {request_id} is a {row.kind.value}, not a restriction"
            )
    else:
        found = session.scalar(
            select(RightsRequest)
            .where(
                RightsRequest.contact_id == contact_id, RightsRequest.kind == RightsKind.RESTRICTION
            )
            .order_by(RightsRequest.id.desc())
            .limit(1)
        )
        if found is None:
            raise NotFoundError("this contact has no restriction request")
        row = found
    contact = session.get_one(Contact, row.contact_id)
    if contact.restricted_at is None:
        if any(step_action == "restriction_lifted" for step_action in _actions(session, row)):
            return row  # a retry
        raise DecisionError("the person is not restricted: nothing to lift")
    contact.restricted_at, contact.updated_at = None, now
    if row.status is RightsStatus.OPEN:  # asked, never applied: recorded as done now
        row.status, row.completed_at = RightsStatus.COMPLETED, now
    details = {"reason": reason.strip()} if reason and reason.strip() else {}
    log_step(session, row, "restriction_lifted", now, actor=actor, details=details)
    row.outcome_reason = (reason or "").strip() or row.outcome_reason
    queue_notice(session, row, contact, "lifted", now, target=_address_of(contact))
    log.info("restriction of rights request %s lifted", row.id)
    return row


def _address_of(contact: Contact) -> tuple[Channel, str] | None:
    return notice_channel(email=contact.email, phone=contact.phone)


def _actions(session: Session, row: RightsRequest) -> list[str]:
    return [step.action for step in history_of(session, row.id)]
