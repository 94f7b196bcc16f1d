"""The one small interface every channel adapter implements, and its data.

The dispatcher renders an :class:`OutboundMessage` per claimed attempt and hands
a batch to ``adapter.send``; the adapter answers one :class:`SendResult` per
message, in any order, never raising for a per-recipient problem.  Transport
faults the adapter could not ride out become ``TRANSIENT`` results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from reconsent.kernel.vocab import Channel, RequestBasis


@dataclass(frozen=True)
class PurposeText:
    code: str
    title: str  # in the message's locale
    description: str


@dataclass(frozen=True)
class MessageContext:
    """What every message of one wave in one locale shares (a batch can share it)."""

    wave_name: str
    locale: str  # "it", "en", ...
    controller_name: str
    controller_contact: str
    purposes: tuple[PurposeText, ...]
    link_lifetime_days: int
    #: Why the person may be asked: it chooses the wording (confirm a prior consent, or
    #: ask for a new one under soft spam).
    basis: RequestBasis = RequestBasis.PRIOR_CONSENT
    #: A confirmation of choices made on a call (the link to see, change or withdraw
    #: them), not a request: a service message, worded as such.
    confirmation: bool = False
    #: A one-time code (the message's ``code``) asked by the person on the portal: a
    #: service message with the code and nothing else (no link, no purposes, no opt-out).
    verification: bool = False


@dataclass(frozen=True)
class ServiceNotice:
    """A service message already rendered (e.g. the outcome of a rights request): not a
    request for consent, so no link and no opt-out; adapters send its text as it is."""

    subject: str
    text: str  # the e-mail's plain-text body
    html: str  # the e-mail's HTML body
    sms: str  # the SMS text


@dataclass(frozen=True)
class OutboundMessage:
    """One request to one person on one channel: data, not rendered text.

    Adapters render it with ``channels.message_render`` (the file outbox renders it
    whole; SendGrid renders one body per context with per-recipient
    substitutions).  Nothing personal leaves through custom args or URLs:
    links carry signed opaque ids only.
    """

    attempt_id: int
    request_id: int
    channel: Channel
    to: str  # normalised email, or E.164 phone
    context: MessageContext
    link: str  # the signed landing-page link
    optout_link: str  # one-click withdrawal (List-Unsubscribe, SMS opt-out line)
    to_name: str | None = None  # given name, for the greeting
    voice_url: str | None = None  # IVR: where the provider fetches the call's TwiML
    status_callback_url: str | None = None  # SMS / IVR: provider status webhook
    #: A service notice instead of the wave's message: ``attempt_id`` is then the
    #: notice's own id (``rights_notices.id``), ``link`` and ``optout_link`` are empty.
    notice: ServiceNotice | None = None
    #: The one-time code of a verification message (``context.verification``); then
    #: ``attempt_id`` is the code challenge's id and ``request_id`` 0 (no wave request).
    code: str | None = None


class SendOutcome(StrEnum):
    SENT = "sent"  # accepted by the provider (or written to the outbox)
    TRANSIENT = "transient"  # worth retrying later (429, 5xx, timeout, carrier hiccup)
    PERMANENT = "permanent"  # this address will not work on this channel
    #: This message could not be built or was refused for its content (a rendering
    #: error, a name a header cannot carry): the attempt fails and the wave escalates,
    #: but the address is not blamed (never a suppression).
    UNSENDABLE = "unsendable"


@dataclass(frozen=True)
class SendResult:
    attempt_id: int
    outcome: SendOutcome
    provider: str
    provider_message_id: str | None = None
    error_code: str | None = None
    error_detail: str | None = None  # never personal data: codes and provider text only
    retry_after: float | None = None  # seconds, from Retry-After when the provider gave one


@runtime_checkable
class ChannelAdapter(Protocol):
    channel: Channel
    provider: str
    #: Largest batch ``send`` accepts in one call.
    max_batch: int
    #: True when sending the same attempt twice is harmless (the file outbox):
    #: an unfinished claim is then re-sent after a crash instead of presumed sent.
    idempotent: bool
    #: True when the provider reports every message it accepted back to us, naming our
    #: attempt id (SendGrid's signed Event Webhook ``processed``; Twilio status callbacks
    #: to a URL carrying the attempt id): a lost outcome is then confirmed by that report
    #: or, with none within the bounded wait, re-sent (see ``decide``'s ``resend_unseen``).
    reports_back: bool

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]: ...
