"""IVR key 3, "send me the link by SMS": the landing link, to the same person, for the same request.

The record is an ordinary :class:`models.SendAttempt` of channel SMS at a
dedicated step index, :data:`SMS_LINK_STEP_OFFSET` + the IVR step the call
belonged to (a wave has at most 10 steps, so 100 + k never meets a real step):

* the unique (request, step) row is the idempotency key: the same CallSid
  posted twice, or key 3 pressed again on a second call of that step, sends
  one SMS;
* the request's own state machine (``step_index``, ``step_sent_at``,
  ``next_action_at``) is never touched: the IVR step waits for its answer as
  usual and the dispatcher only ever reads the attempt at the current step;
* the funnel counts it as what it is, one SMS sent (or failed); the link is
  signed for that attempt's step, so an answer through it is recorded with
  channel SMS, its attempt id and its MessageSid, and the SMS status callback
  finds it by MessageSid like any other;
* the gate still applies: no SMS to a person who objected, refused or is
  suppressed on SMS, who has no phone, or whose wave declares no lawful basis
  for SMS; and none once the request is closed.

Claim first (CLAIMED, in the webhook's unit of work), mark it SENDING and
send after the TwiML answer (outside any transaction), then record the
result: SENT with the MessageSid, or FAILED with the provider's code (one try;
a permanent error suppresses the number on SMS like the dispatcher does).  A
crash leaves a CLAIMED or SENDING row that nothing re-sends: at most once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from models import Contact, SendAttempt, Wave, WaveRequest
from reconsent.campaigns.notices import message_context
from reconsent.db import insert_ignoring_conflicts, unit_of_work
from reconsent.dispatch.message_links import Links
from reconsent.eligibility.send_gate import person_gate
from reconsent.kernel.ports import ChannelAdapter, SendOutcome, SendResult
from reconsent.kernel.rules.escalation import channel_block
from reconsent.kernel.vocab import AttemptStatus, Channel, RequestStatus, SuppressionReason
from reconsent.ledger.suppression_list import suppress_address
from reconsent.settings import Settings

__all__ = ["SMS_LINK_STEP_OFFSET", "Claim", "SmsLinkClaim", "claim_sms_link", "send_sms_link"]

log = logging.getLogger(__name__)

SMS_LINK_STEP_OFFSET = 100


class Claim(StrEnum):
    CLAIMED = "claimed"  # send it now (``attempt_id``)
    ALREADY = "already"  # this request's link SMS for that step exists: nothing more
    REFUSED = "refused"  # this person may not be texted (or the request is closed)


@dataclass(frozen=True)
class SmsLinkClaim:
    claim: Claim
    attempt_id: int | None = None


def claim_sms_link(
    session: Session,
    *,
    request: WaveRequest,
    contact: Contact,
    wave: Wave,
    ivr_step: int,
    now: datetime,
    answered: bool = False,
) -> SmsLinkClaim:
    """Claim the link SMS of this request's IVR step (key 3), or, ``answered``, the
    confirmation SMS after the person answered on the call: the same link, to see,
    change or withdraw what they said (one per request and step either way)."""
    step_index = SMS_LINK_STEP_OFFSET + ivr_step
    existing = session.scalar(
        select(SendAttempt.id).where(
            SendAttempt.request_id == request.id, SendAttempt.step_index == step_index
        )
    )
    if existing is not None:
        return SmsLinkClaim(Claim.ALREADY)
    if request.status is not RequestStatus.ACTIVE and not answered:
        return SmsLinkClaim(Claim.REFUSED)
    # The person pressed 3 to ask for this very SMS: it needs a number and no refusal,
    # objection or SMS suppression, not an SMS marketing consent.
    gate = person_gate(session, contact, wave, channels=[Channel.SMS], requested=True)
    if gate.blocked or channel_block(Channel.SMS, gate):
        return SmsLinkClaim(Claim.REFUSED)
    token = uuid.uuid4().hex
    session.execute(
        insert_ignoring_conflicts(session, SendAttempt.__table__).values(
            request_id=request.id,
            step_index=step_index,
            channel=Channel.SMS.value,
            status=AttemptStatus.CLAIMED.value,
            tries=0,
            claimed_at=now,
            claim_token=token,
        )
    )
    attempt_id = session.scalar(select(SendAttempt.id).where(SendAttempt.claim_token == token))
    if attempt_id is None:  # a concurrent twin claimed it first
        return SmsLinkClaim(Claim.ALREADY)
    return SmsLinkClaim(Claim.CLAIMED, attempt_id)


def send_sms_link(
    engine: Engine,
    settings: Settings,
    attempt_id: int,
    now: datetime,
    adapter: Callable[[], ChannelAdapter],
) -> SendResult | None:
    """Render, send and record a claimed link SMS; None when it is no longer CLAIMED.

    ``adapter`` gives the SMS adapter (:func:`reconsent.wiring.sms_adapter`); it
    is asked for only once the attempt is handed over, so a configuration
    problem is recorded on the attempt like a provider problem.  Never raises
    for either.  Each unit of work writes first (a compare-and-set on the
    attempt's status), so a concurrent SQLite writer never invalidates a read
    snapshot.
    """
    with unit_of_work(engine) as session:
        handed = session.scalar(  # handed over: never sent again (at most once)
            update(SendAttempt)
            .where(SendAttempt.id == attempt_id, SendAttempt.status == AttemptStatus.CLAIMED)
            .values(status=AttemptStatus.SENDING)
            .returning(SendAttempt.id)
        )
        if handed is None:
            return None
        attempt = session.get_one(SendAttempt, attempt_id)
        request = session.get_one(WaveRequest, attempt.request_id)
        contact = session.get_one(Contact, request.contact_id)
        wave = session.get_one(Wave, request.wave_id)
        context = message_context(session, wave, contact.locale, settings)
        if request.status is not RequestStatus.ACTIVE:  # answered on the call: confirm it
            context = replace(context, confirmation=True)
        message = Links.issued_at(
            settings.portal_base_url, settings.link_signing_keys(), now
        ).message(attempt, contact, Channel.SMS, context)
    try:
        [result] = adapter().send([message])
    except Exception as exc:  # a configuration problem: recorded, and logged for the operator
        log.error("link SMS for attempt %s not sent: %s", attempt_id, type(exc).__name__)
        result = SendResult(
            attempt_id,
            SendOutcome.TRANSIENT,
            "sms",
            error_code="adapter_error",
            error_detail=type(exc).__name__,
        )
    with unit_of_work(engine) as session:
        _record(session, attempt_id, result, now)
    return result


def _record(session: Session, attempt_id: int, result: SendResult, now: datetime) -> None:
    sent = result.outcome is SendOutcome.SENT
    request_id = session.scalar(
        update(SendAttempt)
        .where(SendAttempt.id == attempt_id, SendAttempt.status == AttemptStatus.SENDING)
        .values(
            status=AttemptStatus.SENT if sent else AttemptStatus.FAILED,
            provider=result.provider,
            tries=SendAttempt.tries + 1,
            sent_at=now if sent else None,
            provider_message_id=result.provider_message_id if sent else None,
            error_code=None if sent else result.error_code,
            error_detail=None if sent else result.error_detail,
        )
        .returning(SendAttempt.request_id)
    )
    if request_id is None or result.outcome is not SendOutcome.PERMANENT:
        return
    request = session.get_one(WaveRequest, request_id)
    contact = session.get_one(Contact, request.contact_id)
    if contact.phone_hash:
        suppress_address(
            session,
            address_hash=contact.phone_hash,
            channel=Channel.SMS,
            reason=SuppressionReason.INVALID_ADDRESS,
            source=f"{result.provider}:{result.error_code}",
            now=now,
            contact_id=contact.id,
        )
