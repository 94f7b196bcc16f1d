"""Sending a one-time code through the channel adapters (e-mail or SMS), after the answer.

The message is an :class:`~reconsent.kernel.ports.OutboundMessage` whose context
says ``verification`` (the channels render their short code templates) and whose
``code`` is the code; it goes to the address we hold for the person, never to
one typed by the visitor. The send runs as the response's background task: the
page answers at once, the same way whether or not a code is sent.
"""

from __future__ import annotations

import logging
import threading

from starlette.background import BackgroundTask
from starlette.responses import Response

from consent_portal.state import Portal
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.ports import ChannelAdapter, MessageContext, OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings
from reconsent.wiring import build_adapter, settings_fingerprint

logger = logging.getLogger(__name__)

__all__ = ["code_message", "send_after"]

_lock = threading.Lock()
_adapters: dict[tuple[str, Channel], ChannelAdapter] = {}


def _adapter(settings: Settings, channel: Channel) -> ChannelAdapter:
    """This process's adapter for ``channel`` (built once per settings)."""
    key = (settings_fingerprint(settings), channel)
    with _lock:
        adapter = _adapters.get(key)
        if adapter is None:
            adapter = _adapters[key] = build_adapter(settings, channel)
        return adapter


def code_message(
    settings: Settings, challenge_id: int, channel: Channel, to: str, code: str, locale: str
) -> OutboundMessage:
    context = MessageContext(
        wave_name="",
        locale=locale,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        purposes=(),
        link_lifetime_days=0,
        verification=True,
    )
    return OutboundMessage(
        attempt_id=challenge_id,
        request_id=0,
        channel=channel,
        to=to,
        context=context,
        link="",
        optout_link="",
        code=code,
    )


def _send(settings: Settings, message: OutboundMessage) -> None:
    try:
        result = _adapter(settings, message.channel).send([message])[0]
    except ConfigError:
        logger.warning(
            "one-time code %s: channel %s is not configured", message.attempt_id, message.channel
        )
        return
    if result.outcome is not SendOutcome.SENT:
        logger.warning(
            "one-time code %s not sent on %s: %s %s",
            message.attempt_id,
            message.channel,
            result.outcome,
            result.error_code,
        )


def send_after(portal: Portal, response: Response, message: OutboundMessage | None) -> Response:
    """``response``, sending ``message`` once it has gone (nothing when None)."""
    if message is not None:
        response.background = BackgroundTask(_send, portal.settings, message)
    return response
