"""What a provider's delivery report means for a send attempt, as pure functions.

The webhooks parse a callback, ask here for a :class:`DeliveryVerdict`, and
:mod:`reconsent.feedback.delivery_reports` applies it to the database.  Error codes are judged by
:mod:`reconsent.kernel.rules.provider_answers`, the one place that classifies provider answers.

=========================================  ===========  ========================================
provider report                            effect       what happens
=========================================  ===========  ========================================
Twilio SMS queued, accepted, scheduled,    PROGRESS     ``delivery_status`` only
sending, sent
Twilio SMS delivered, read                 DELIVERED    ``delivery_status`` only; the step's
                                                        wait for an answer goes on
Twilio SMS undelivered / failed with a     FAILED       attempt FAILED (code kept); at the
permanent code (21211, 21610, 21612,                    request's current step: escalate at the
21614, 21635, 30005, 30006)                             next tick; number suppressed on SMS
                                                        (INVALID_ADDRESS)
Twilio SMS undelivered / failed with a     RETRY        at the current step: attempt RETRY
transient code or none (30001, 30003,                   after the dispatcher's backoff while
30008...)                                               tries < SEND_MAX_TRIES, then FAILED +
                                                        escalate (it never arrived: waiting
                                                        days for an answer would be pointless)
Twilio SMS undelivered / failed with an    NOT_REACHED  attempt FAILED, escalate; no
account code (21606...); canceled                       suppression (not the person's fault)
Twilio call queued, initiated, ringing,    PROGRESS     ``delivery_status`` only
in-progress
Twilio call completed                      DELIVERED    answered by a person or a voicemail
Twilio call busy, no-answer, failed,       NOT_REACHED  nobody answered: attempt FAILED,
canceled                                                escalate now (no key can come); a
                                                        permanent ``ErrorCode`` also suppresses
                                                        the number on IVR
SendGrid processed, deferred               PROGRESS     SendGrid retries a deferral itself
SendGrid delivered                         DELIVERED
SendGrid bounce                            FAILED       suppression BOUNCE on email
SendGrid bounce of type "blocked"          RETRY        a soft bounce: like Twilio's transient
SendGrid dropped                           FAILED       suppression INVALID_ADDRESS on email
SendGrid spamreport                        WITHDRAWN    objection: every consent withdrawn,
                                                        suppressed everywhere (SPAM_REPORT) and
                                                        on the address, open request closed
SendGrid unsubscribe, group_unsubscribe    WITHDRAWN    the same, reason UNSUBSCRIBE
SendGrid open, click, group_resubscribe,   IGNORED      never consent, never a delivery fact
anything else
=========================================  ===========  ========================================

A final status (delivered, failed...) is never overwritten by a late in-flight
one (callbacks can arrive out of order).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reconsent.kernel.ports import SendOutcome
from reconsent.kernel.rules.provider_answers import (
    EmailEvent,
    classify_sendgrid_event,
    twilio_outcome,
)
from reconsent.kernel.vocab import SuppressionReason

__all__ = [
    "DeliveryEffect",
    "DeliveryVerdict",
    "is_final",
    "sendgrid_event_verdict",
    "twilio_call_verdict",
    "twilio_message_verdict",
]


class DeliveryEffect(StrEnum):
    PROGRESS = "progress"
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    NOT_REACHED = "not_reached"
    WITHDRAWN = "withdrawn"
    IGNORED = "ignored"


@dataclass(frozen=True)
class DeliveryVerdict:
    effect: DeliveryEffect
    #: What ``SendAttempt.delivery_status`` becomes (the provider's own word).
    status: str
    #: The provider's error code, kept on the attempt (None: keep what is there).
    error_code: str | None = None
    #: Why the address must not be used again on the attempt's channel.
    suppression: SuppressionReason | None = None

    @property
    def final(self) -> bool:
        return self.effect is not DeliveryEffect.PROGRESS


_SMS_PROGRESS = frozenset({"queued", "accepted", "scheduled", "sending", "sent"})
_SMS_DELIVERED = frozenset({"delivered", "read"})
_SMS_FAILED = frozenset({"undelivered", "failed"})
_CALL_PROGRESS = frozenset({"queued", "initiated", "ringing", "in-progress", "answered"})
_CALL_NOT_REACHED = frozenset({"busy", "no-answer", "failed", "canceled"})
#: Every in-flight word of either provider: a final status is never replaced by one.
_IN_FLIGHT = _SMS_PROGRESS | _CALL_PROGRESS | frozenset({"processed", "deferred"})


def is_final(delivery_status: str | None) -> bool:
    return delivery_status is not None and delivery_status not in _IN_FLIGHT


def _code(error_code: str | None) -> int | None:
    text = (error_code or "").strip()
    return int(text) if text.isdigit() else None


def _twilio_failure(error_code: str | None) -> SendOutcome | None:
    """PERMANENT / TRANSIENT for a failure code; None when our account is at fault."""
    return twilio_outcome(None, _code(error_code))


def twilio_message_verdict(status: str, error_code: str | None = None) -> DeliveryVerdict:
    """A Messages status callback (``MessageStatus`` and ``ErrorCode``)."""
    word = status.strip().lower()
    code = (error_code or "").strip() or None
    if word in _SMS_PROGRESS:
        return DeliveryVerdict(DeliveryEffect.PROGRESS, word)
    if word in _SMS_DELIVERED:
        return DeliveryVerdict(DeliveryEffect.DELIVERED, word)
    if word in _SMS_FAILED:
        outcome = _twilio_failure(code)
        if outcome is SendOutcome.PERMANENT:
            return DeliveryVerdict(
                DeliveryEffect.FAILED, word, code, SuppressionReason.INVALID_ADDRESS
            )
        if outcome is None:
            return DeliveryVerdict(DeliveryEffect.NOT_REACHED, word, code)
        return DeliveryVerdict(DeliveryEffect.RETRY, word, code)
    if word == "canceled":
        return DeliveryVerdict(DeliveryEffect.NOT_REACHED, word, code)
    return DeliveryVerdict(DeliveryEffect.IGNORED, word[:32], code)


def twilio_call_verdict(status: str, error_code: str | None = None) -> DeliveryVerdict:
    """A Calls status callback (``CallStatus`` and, rarely, ``ErrorCode``)."""
    word = status.strip().lower()
    code = (error_code or "").strip() or None
    if word in _CALL_PROGRESS:
        return DeliveryVerdict(DeliveryEffect.PROGRESS, word)
    if word == "completed":
        return DeliveryVerdict(DeliveryEffect.DELIVERED, word)
    if word in _CALL_NOT_REACHED:
        permanent = code is not None and _twilio_failure(code) is SendOutcome.PERMANENT
        if permanent:
            return DeliveryVerdict(
                DeliveryEffect.FAILED, word, code, SuppressionReason.INVALID_ADDRESS
            )
        return DeliveryVerdict(DeliveryEffect.NOT_REACHED, word, code)
    return DeliveryVerdict(DeliveryEffect.IGNORED, word[:32], code)


_EMAIL_EFFECT = {
    EmailEvent.ACCEPTED: DeliveryEffect.PROGRESS,
    EmailEvent.DEFERRED: DeliveryEffect.PROGRESS,
    EmailEvent.DELIVERED: DeliveryEffect.DELIVERED,
    EmailEvent.BOUNCED: DeliveryEffect.FAILED,
    EmailEvent.DROPPED: DeliveryEffect.FAILED,
    EmailEvent.BLOCKED: DeliveryEffect.RETRY,
    EmailEvent.COMPLAINED: DeliveryEffect.WITHDRAWN,
    EmailEvent.UNSUBSCRIBED: DeliveryEffect.WITHDRAWN,
}


def sendgrid_event_verdict(
    event_name: str, bounce_type: str | None = None, smtp_status: str | None = None
) -> DeliveryVerdict:
    """One Event Webhook event (``event``, and ``type`` / ``status`` for bounces)."""
    event = classify_sendgrid_event(event_name, bounce_type)
    effect = _EMAIL_EFFECT.get(event, DeliveryEffect.IGNORED)
    word = "processed" if event is EmailEvent.ACCEPTED else event_name.strip().lower()[:32]
    if event is EmailEvent.BLOCKED:
        word = "blocked"
    code = (smtp_status or "").strip()[:32] or None
    failed = effect in (DeliveryEffect.FAILED, DeliveryEffect.RETRY)
    return DeliveryVerdict(effect, word, code if failed else None, event.suppression)
