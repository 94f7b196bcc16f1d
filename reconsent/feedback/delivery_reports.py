"""Applying a provider's delivery report to the database (no HTTP).

The webhooks verify and parse a callback, judge it with
:mod:`reconsent.kernel.rules.delivery_outcomes` (the table of what each report means lives
there), and call :func:`apply_delivery` inside one unit of work:

1. find the attempt: by ``attempt_id`` (SendGrid echoes our ``custom_args``,
   checked against its ``request_id``; Twilio posts to the status URL we gave it,
   which carries it), bound to the provider's message id when we kept one, or by
   the provider's message id
   (Twilio ``MessageSid`` / ``CallSid`` = ``SendAttempt.provider_message_id``);
   an unknown attempt changes nothing and its key is not kept;
2. keep the callback's key (:func:`reconsent.feedback.webhook_keys.first_time`): the same
   callback twice changes nothing;
3. set ``delivery_status`` (a final status is never replaced by a late
   in-flight one) and keep the provider's error code;
4. act: a failure at the request's current step escalates at the next tick
   (``step_sent_at`` cleared, ``next_action_at`` now: ``decide`` moves past a
   FAILED attempt) or, for a transient one, re-sends that step after the
   dispatcher's backoff; a permanent failure suppresses the address on that
   channel; a spam report or an unsubscribe is an objection.

Nothing personal from a callback is stored: keys are provider ids, evidence
holds ids and event names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, SendAttempt, WaveRequest
from reconsent.feedback.webhook_keys import first_time
from reconsent.kernel.rules.delivery_outcomes import DeliveryEffect, DeliveryVerdict, is_final
from reconsent.kernel.rules.retry import backoff
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    CollectionMethod,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.objections import record_channel_optout, record_objection
from reconsent.ledger.suppression_list import suppress_address

__all__ = ["Applied", "DeliveryReport", "apply_delivery"]

#: Attempts a failure report may still change (the claim's result may not be recorded yet).
_OUT = frozenset(
    {AttemptStatus.SENT, AttemptStatus.UNKNOWN, AttemptStatus.SENDING, AttemptStatus.CLAIMED}
)
_FAILING = frozenset({DeliveryEffect.FAILED, DeliveryEffect.NOT_REACHED, DeliveryEffect.RETRY})


class Applied(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this callback was applied before: nothing changed
    UNKNOWN = "unknown"  # no attempt of ours matches: nothing changed


@dataclass(frozen=True)
class DeliveryReport:
    """One parsed, verified callback (or one event of a SendGrid batch)."""

    provider: str  # "twilio" / "sendgrid"
    event_key: str
    channel: Channel
    verdict: DeliveryVerdict
    provider_message_id: str | None = None
    attempt_id: int | None = None
    request_id: int | None = None


def apply_delivery(
    session: Session, report: DeliveryReport, *, ctx: LedgerContext, max_tries: int
) -> Applied:
    attempt = _find_attempt(session, report)
    if attempt is not None and attempt.status in _LOST:
        _reconcile(attempt, report, ctx.now)
    if attempt is None:
        return Applied.UNKNOWN
    if not first_time(session, report.provider, report.event_key, ctx.now):
        return Applied.DUPLICATE
    verdict = report.verdict
    if verdict.effect is DeliveryEffect.IGNORED:
        return Applied.APPLIED
    if verdict.final or not is_final(attempt.delivery_status):
        attempt.delivery_status = verdict.status
    if verdict.error_code:
        attempt.error_code = verdict.error_code
    request = session.get(WaveRequest, attempt.request_id, with_for_update=True)
    contact = session.get(Contact, request.contact_id) if request is not None else None
    if request is None or contact is None:  # foreign keys make this impossible
        return Applied.APPLIED
    if verdict.effect is DeliveryEffect.WITHDRAWN:
        _withdraw(session, report, attempt, request, contact, ctx)
    elif verdict.effect in _FAILING and attempt.status in _OUT:
        _failed(session, report, attempt, request, contact, ctx.now, max_tries)
    return Applied.APPLIED


#: Attempts whose outcome was lost in a crash (handed over, never recorded, and found
#: after the lease). A SENDING one is not: its dispatcher may still be recording it.
_LOST = frozenset({AttemptStatus.UNKNOWN})


def _reconcile(attempt: SendAttempt, report: DeliveryReport, now: datetime) -> None:
    """Any report about an attempt proves the provider received it: a lost outcome
    (UNKNOWN) becomes SENT, with the provider's message id."""
    if report.verdict.effect is DeliveryEffect.IGNORED:
        return
    attempt.status = AttemptStatus.SENT
    attempt.sent_at = attempt.sent_at or attempt.claimed_at or now
    if report.provider_message_id and not attempt.provider_message_id:
        attempt.provider_message_id = report.provider_message_id[:64]
    attempt.error_code = None
    attempt.error_detail = f"reconciled from {report.provider}"


def _find_attempt(session: Session, report: DeliveryReport) -> SendAttempt | None:
    if report.attempt_id is not None:
        attempt = session.get(SendAttempt, report.attempt_id)
        if attempt is None or attempt.channel is not report.channel:
            return None
        if report.request_id is not None and attempt.request_id != report.request_id:
            return None
        known, told = attempt.provider_message_id, report.provider_message_id
        if known and told and not told.startswith(known):
            # The attempt went out as another message (SendGrid's sg_message_id starts
            # with the X-Message-Id we kept; a Twilio sid equals it): not about this one.
            return None
        return attempt
    if not report.provider_message_id:
        return None
    return session.scalar(
        select(SendAttempt)
        .where(
            SendAttempt.provider_message_id == report.provider_message_id,
            SendAttempt.channel == report.channel,
        )
        .limit(1)
    )


def _address_hash(contact: Contact, channel: Channel) -> str | None:
    return contact.email_hash if channel is Channel.EMAIL else contact.phone_hash


def _failed(
    session: Session,
    report: DeliveryReport,
    attempt: SendAttempt,
    request: WaveRequest,
    contact: Contact,
    now: datetime,
    max_tries: int,
) -> None:
    verdict = report.verdict
    current = request.status is RequestStatus.ACTIVE and request.step_index == attempt.step_index
    attempt.error_detail = f"{report.provider} reported {verdict.status}"
    tries = max(attempt.tries, 1)
    if verdict.effect is DeliveryEffect.RETRY and current and tries < max_tries:
        attempt.status = AttemptStatus.RETRY
        attempt.tries = tries
        attempt.next_retry_at = now + backoff(tries, None)
        request.step_sent_at = None
        request.next_action_at = attempt.next_retry_at
        return
    attempt.status = AttemptStatus.FAILED
    if current:  # decide() passes a FAILED attempt: the next step goes out at the next tick
        request.step_sent_at = None
        request.next_action_at = now
    digest = _address_hash(contact, attempt.channel)
    if verdict.suppression is not None and digest:
        suppress_address(
            session,
            address_hash=digest,
            channel=attempt.channel,
            reason=verdict.suppression,
            source=f"{report.provider}:{verdict.status}:{verdict.error_code or '-'}",
            now=now,
            contact_id=contact.id,
        )


def _withdraw(
    session: Session,
    report: DeliveryReport,
    attempt: SendAttempt,
    request: WaveRequest,
    contact: Contact,
    ctx: LedgerContext,
) -> None:
    reason = report.verdict.suppression
    assert reason is not None  # spam reports and unsubscribes carry their reason
    evidence = {
        "provider": report.provider,
        "event": report.verdict.status,
        "event_key": report.event_key,
        "attempt_id": attempt.id,
    }
    if contact.erased_at is None and reason is not SuppressionReason.SPAM_REPORT:
        # An unsubscribe stops e-mail (withdrawal on the channel it was given on);
        # a spam report is the strongest "no" there is: an objection everywhere.
        record_channel_optout(
            session,
            contact_id=contact.id,
            channel=attempt.channel,
            request_id=request.id,
            method=CollectionMethod.EMAIL,
            evidence=evidence,
            ctx=ctx,
            reason=reason,
        )
    elif contact.erased_at is None:
        record_objection(
            session,
            request_id=request.id,
            contact_id=contact.id,
            method=CollectionMethod.EMAIL,
            channel=attempt.channel,
            evidence=evidence,
            ctx=ctx,
            reason=reason,
        )
    digest = _address_hash(contact, attempt.channel)
    if digest:
        suppress_address(
            session,
            address_hash=digest,
            channel=attempt.channel,
            reason=reason,
            source=f"{report.provider}:{report.verdict.status}",
            now=ctx.now,
            contact_id=contact.id,
        )
