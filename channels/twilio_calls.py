"""Re-consent calls through Twilio's Calls API (``calls.create``), one call per message.

Twilio fetches the call script from the message's ``voice_url`` (the portal
serves :func:`channels.ivr_twiml.call_twiml` or, for an answering machine,
:func:`channels.ivr_twiml.machine_twiml`); ``MachineDetection=DetectMessageEnd``
makes a voicemail message start after the beep.
"""

from __future__ import annotations

from typing import Any

from channels.twilio_client import TWILIO_API, TwilioAdapterBase
from reconsent.kernel.ports import OutboundMessage
from reconsent.kernel.vocab import Channel

__all__ = ["STATUS_CALLBACK_EVENTS", "TwilioVoice"]

STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwilioVoice(TwilioAdapterBase):
    channel = Channel.IVR

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str = TWILIO_API,
        *,
        timeout: float = 10.0,
        max_batch: int = 100,
        ring_timeout: int = 30,
    ) -> None:
        super().__init__(
            account_sid, auth_token, from_, base_url, timeout=timeout, max_batch=max_batch
        )
        self.ring_timeout = ring_timeout

    def _prepare(self, msg: OutboundMessage) -> dict[str, Any]:
        if not msg.voice_url:
            raise ValueError(f"IVR attempt {msg.attempt_id} has no voice_url")
        args: dict[str, Any] = {
            "to": msg.to,
            "from_": self.from_,
            "url": msg.voice_url,
            "method": "POST",
            "machine_detection": "DetectMessageEnd",
            "timeout": self.ring_timeout,
        }
        if msg.status_callback_url:
            args["status_callback"] = msg.status_callback_url
            args["status_callback_method"] = "POST"
            args["status_callback_event"] = list(STATUS_CALLBACK_EVENTS)
        return args

    def _create(self, msg: OutboundMessage, args: dict[str, Any]) -> str:
        call = self.client.calls.create(**args)
        return str(call.sid)
