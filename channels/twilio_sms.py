"""SMS through Twilio's Messages API (``messages.create``), one call per message."""

from __future__ import annotations

from typing import Any

from channels.message_render import DEFAULT_SMS_MAX_SEGMENTS, render_sms
from channels.twilio_client import TWILIO_API, TwilioAdapterBase
from reconsent.kernel.ports import OutboundMessage
from reconsent.kernel.vocab import Channel

__all__ = ["TwilioSms"]


class TwilioSms(TwilioAdapterBase):
    """Sends :func:`channels.message_render.render_sms` text from ``from_``.

    ``from_`` is a number or an alphanumeric id.

    The text carries an opt-out link because alphanumeric senders cannot
    receive a STOP reply.  Every message is rendered before the first call, so
    a text over the segment budget (a configuration problem) fails the whole
    batch up front with :class:`reconsent.kernel.rules.provider_answers.SmsTooLongError`.
    """

    channel = Channel.SMS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str = TWILIO_API,
        *,
        timeout: float = 10.0,
        max_batch: int = 500,
        sms_max_segments: int = DEFAULT_SMS_MAX_SEGMENTS,
    ) -> None:
        super().__init__(
            account_sid, auth_token, from_, base_url, timeout=timeout, max_batch=max_batch
        )
        self.sms_max_segments = sms_max_segments

    def _prepare(self, msg: OutboundMessage) -> dict[str, Any]:
        return {
            "to": msg.to,
            "from_": self.from_,
            "body": render_sms(msg, self.sms_max_segments),
            "status_callback": msg.status_callback_url,
        }

    def _create(self, msg: OutboundMessage, args: dict[str, Any]) -> str:
        message = self.client.messages.create(**args)
        return str(message.sid)
