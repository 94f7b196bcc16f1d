"""Building the outbound message of one claimed attempt: who, on which channel, and
the signed links it carries (issued at tick time, opaque ids only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models import Contact, SendAttempt
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.ports import MessageContext, OutboundMessage
from reconsent.kernel.rules.names import display_name
from reconsent.kernel.vocab import Channel


class Recipient(Protocol):
    """Who a message goes to: a ``Contact``, or a row with the same columns."""

    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def given_name(self) -> str | None: ...


_CALLBACKS = {
    Channel.SMS: "/webhooks/twilio/sms-status",
    Channel.IVR: "/webhooks/twilio/call-status",
}


@dataclass(frozen=True)
class Links:
    """The signed URLs of one message: issued at tick time, opaque ids only."""

    base_url: str
    signer: LinkSigner

    @classmethod
    def issued_at(cls, base_url: str, keys: Sequence[str], now: datetime) -> Links:
        """Links signed with ``keys`` (oldest first) and stamped ``now`` (the tick's time)."""
        return cls(base_url, LinkSigner(list(keys), clock=FixedClock(now)))

    def message(
        self, attempt: SendAttempt, contact: Contact, channel: Channel, context: MessageContext
    ) -> OutboundMessage:
        return self.build(
            attempt.id, attempt.request_id, attempt.step_index, contact, channel, context
        )

    def build(
        self,
        attempt_id: int,
        rid: int,
        step: int,
        recipient: Recipient,
        channel: Channel,
        context: MessageContext,
    ) -> OutboundMessage:
        """The message of attempt ``attempt_id`` (request ``rid``, step ``step``)."""
        base = self.base_url.rstrip("/")
        voice = (
            f"{base}/webhooks/twilio/voice?t={self.signer.sign(LinkUse.IVR, rid, step)}"
            if channel is Channel.IVR
            else None
        )
        callback = _CALLBACKS.get(channel)
        return OutboundMessage(
            attempt_id=attempt_id,
            request_id=rid,
            channel=channel,
            to=(recipient.email if channel is Channel.EMAIL else recipient.phone) or "",
            context=context,
            link=f"{base}/c/{self.signer.sign(LinkUse.LANDING, rid, step)}",
            optout_link=f"{base}/o/{self.signer.sign(LinkUse.OPTOUT, rid, step)}",
            to_name=display_name(recipient.given_name),
            voice_url=voice,
            # Our attempt id rides in the callback URL (covered by Twilio's signature): a
            # report reconciles the attempt even when the provider's sid was never recorded.
            status_callback_url=None if callback is None else f"{base}{callback}?a={attempt_id}",
        )
