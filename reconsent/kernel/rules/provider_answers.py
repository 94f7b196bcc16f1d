"""What a provider's answer means: the one classification of HTTP statuses and codes.

Adapters and webhooks never decide on their own whether a failure is worth a
retry: they pass the HTTP status and the provider's error code here.

* ``SENT`` / ``TRANSIENT`` / ``PERMANENT``: see :class:`reconsent.kernel.ports.SendOutcome`.
* the provider refused *us* (bad credentials, an unusable sender): no
  recipient is at fault. :func:`twilio_outcome` answers None;
  :func:`classify_twilio` / :func:`classify_sendgrid` (the adapters' entry)
  raise :class:`~reconsent.kernel.errors.ChannelConfigError`, so nothing is
  marked failed and the dispatcher stops with a message an operator can act on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from reconsent.kernel.errors import ChannelConfigError
from reconsent.kernel.ports import SendOutcome
from reconsent.kernel.vocab import SuppressionReason

__all__ = [
    "TWILIO_CONFIG_CODES",
    "TWILIO_PERMANENT_CODES",
    "TWILIO_TRANSIENT_CODES",
    "EmailEvent",
    "classify_sendgrid",
    "classify_sendgrid_event",
    "classify_twilio",
    "parse_retry_after",
    "twilio_outcome",
]


# --- Twilio ---------------------------------------------------------------------------------

#: This number will not work on this channel: stop using it (invalid, STOP, landline...).
TWILIO_PERMANENT_CODES = frozenset({21211, 21610, 21612, 21614, 21635, 30005, 30006})
#: Carrier or queue hiccups: retry later, then escalate.
TWILIO_TRANSIENT_CODES = frozenset({20429, 30001, 30003, 30008})
#: Our account or sender is at fault, not the recipient.
TWILIO_CONFIG_CODES = frozenset(
    {
        20003,  # authentication failed
        20404,  # account / resource not found (wrong account sid)
        21212,  # invalid From number
        21606,  # From number cannot send SMS
        21659,  # From is not a Twilio number
    }
)


def twilio_outcome(http_status: int | None, code: int | None) -> SendOutcome | None:
    """Outcome of a Twilio answer; None when *our* account or sender is at fault.

    ``http_status`` None means no answer (timeout, refused) or a status
    callback's ``ErrorCode`` alone.  A known error code decides before the
    HTTP status (Twilio answers 400 for both an invalid number and a malformed
    request); unknown 4xx codes are per-message permanent.
    """
    if code in TWILIO_CONFIG_CODES or http_status in (401, 403):
        return None
    if code in TWILIO_PERMANENT_CODES:
        return SendOutcome.PERMANENT
    if code in TWILIO_TRANSIENT_CODES:
        return SendOutcome.TRANSIENT
    if http_status is None or http_status == 429 or http_status >= 500:
        return SendOutcome.TRANSIENT
    if 200 <= http_status < 300:
        return SendOutcome.SENT
    return SendOutcome.PERMANENT


def classify_twilio(http_status: int | None, code: int | None) -> SendOutcome:
    """:func:`twilio_outcome` for an adapter: raises :class:`ChannelConfigError`
    (401/403 and account codes) instead of answering None."""
    outcome = twilio_outcome(http_status, code)
    if outcome is None:
        raise ChannelConfigError(
            f"Twilio refused the request (HTTP {http_status}, code {code}): "
            "check RECONSENT_TWILIO_ACCOUNT_SID, RECONSENT_TWILIO_AUTH_TOKEN "
            "and the sender numbers",
            provider="twilio",
            status=http_status,
            code=code,
        )
    return outcome


# --- SendGrid -------------------------------------------------------------------------------


def classify_sendgrid(http_status: int | None) -> SendOutcome:
    """Outcome of one ``POST /v3/mail/send`` for every personalization it carried.

    None (timeout, refused connection), 429 and 5xx are transient; other 4xx
    mean the batch payload itself is bad (permanent for that batch); 401/403
    raise :class:`ChannelConfigError`.
    """
    if http_status in (401, 403):
        raise ChannelConfigError(
            f"SendGrid refused the API key (HTTP {http_status}): "
            "check RECONSENT_SENDGRID_API_KEY and its mail.send permission",
            provider="sendgrid",
            status=http_status,
        )
    if http_status is None or http_status == 429 or http_status >= 500:
        return SendOutcome.TRANSIENT
    if 200 <= http_status < 300:
        return SendOutcome.SENT
    return SendOutcome.PERMANENT


class EmailEvent(StrEnum):
    """What a SendGrid Event Webhook event means for the attempt and the address."""

    ACCEPTED = "accepted"  # processed
    DELIVERED = "delivered"
    DEFERRED = "deferred"  # the receiving server asked to try later (SendGrid retries)
    BOUNCED = "bounced"  # hard bounce: the address does not work
    BLOCKED = "blocked"  # soft bounce (bounce type "blocked"): temporary
    DROPPED = "dropped"  # SendGrid refused to deliver (suppressed, invalid)
    ENGAGED = "engaged"  # open / click: informative only, never consent
    COMPLAINED = "complained"  # spamreport
    UNSUBSCRIBED = "unsubscribed"  # unsubscribe / group_unsubscribe
    RESUBSCRIBED = "resubscribed"  # group_resubscribe: never consent by itself
    UNKNOWN = "unknown"

    @property
    def outcome(self) -> SendOutcome | None:
        """The delivery outcome it settles, or None when it settles nothing."""
        return _EVENT_OUTCOME.get(self)

    @property
    def suppression(self) -> SuppressionReason | None:
        """Why the address must never be emailed again, if it must not."""
        return _EVENT_SUPPRESSION.get(self)


_EVENT_NAMES = {
    "processed": EmailEvent.ACCEPTED,
    "delivered": EmailEvent.DELIVERED,
    "deferred": EmailEvent.DEFERRED,
    "bounce": EmailEvent.BOUNCED,
    "dropped": EmailEvent.DROPPED,
    "open": EmailEvent.ENGAGED,
    "click": EmailEvent.ENGAGED,
    "spamreport": EmailEvent.COMPLAINED,
    "unsubscribe": EmailEvent.UNSUBSCRIBED,
    "group_unsubscribe": EmailEvent.UNSUBSCRIBED,
    "group_resubscribe": EmailEvent.RESUBSCRIBED,
}
_EVENT_OUTCOME = {
    EmailEvent.ACCEPTED: SendOutcome.SENT,
    EmailEvent.DELIVERED: SendOutcome.SENT,
    EmailEvent.DEFERRED: SendOutcome.TRANSIENT,
    EmailEvent.BLOCKED: SendOutcome.TRANSIENT,
    EmailEvent.BOUNCED: SendOutcome.PERMANENT,
    EmailEvent.DROPPED: SendOutcome.PERMANENT,
}
_EVENT_SUPPRESSION = {
    EmailEvent.BOUNCED: SuppressionReason.BOUNCE,
    EmailEvent.DROPPED: SuppressionReason.INVALID_ADDRESS,  # SendGrid will not deliver there
    EmailEvent.COMPLAINED: SuppressionReason.SPAM_REPORT,
    EmailEvent.UNSUBSCRIBED: SuppressionReason.UNSUBSCRIBE,
}


def classify_sendgrid_event(event_name: str, bounce_type: str | None = None) -> EmailEvent:
    """Map an Event Webhook ``event`` (and, for bounces, its ``type``) to an :class:`EmailEvent`."""
    event = _EVENT_NAMES.get(event_name.strip().lower(), EmailEvent.UNKNOWN)
    if event is EmailEvent.BOUNCED and (bounce_type or "").lower() == "blocked":
        return EmailEvent.BLOCKED
    return event


# --- Retry-After ----------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)
