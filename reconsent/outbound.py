"""Building the outbound message of one claimed attempt: who, on which channel, and
the signed links it carries (issued at tick time, opaque ids only)."""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import MessageContext, OutboundMessage
from models import Contact, SendAttempt
from reconsent.links import LinkSigner, LinkUse
from reconsent.vocab import Channel


@dataclass(frozen=True)
class Links:
    """The signed URLs of one message: issued at tick time, opaque ids only."""

    base_url: str
    signer: LinkSigner

    def message(
        self, attempt: SendAttempt, contact: Contact, channel: Channel, context: MessageContext
    ) -> OutboundMessage:
        base = self.base_url.rstrip("/")
        rid, step = attempt.request_id, attempt.step_index
        voice = (
            f"{base}/webhooks/twilio/voice?t={self.signer.sign(LinkUse.IVR, rid, step)}"
            if channel is Channel.IVR
            else None
        )
        callbacks = {
            Channel.SMS: f"{base}/webhooks/twilio/sms-status",
            Channel.IVR: f"{base}/webhooks/twilio/call-status",
        }
        return OutboundMessage(
            attempt_id=attempt.id,
            request_id=rid,
            channel=channel,
            to=(contact.email if channel is Channel.EMAIL else contact.phone) or "",
            context=context,
            link=f"{base}/c/{self.signer.sign(LinkUse.LANDING, rid, step)}",
            optout_link=f"{base}/o/{self.signer.sign(LinkUse.OPTOUT, rid, step)}",
            to_name=contact.given_name,
            voice_url=voice,
            status_callback_url=callbacks.get(channel),
        )
