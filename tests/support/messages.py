"""Outbound messages for channel tests (pure data, no I/O), shared by unit and
integration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconsent.kernel.ports import MessageContext, OutboundMessage, PurposeText
from reconsent.kernel.vocab import Channel, RequestBasis

MakeMessage = Callable[..., OutboundMessage]

PURPOSES = {
    "it": (
        PurposeText("marketing_email", "Offerte via email", "Novità e promozioni sui prodotti."),
        PurposeText("profiling", "Profilazione", "Analisi delle preferenze per offerte su misura."),
    ),
    "en": (
        PurposeText("marketing_email", "Offers by email", "News and promotions on our products."),
        PurposeText("profiling", "Profiling", "Analysis of preferences for tailored offers."),
    ),
}

CONTROLLER = "Example Contact Centre S.r.l."
#: What the e-mail asks for, by language and basis: a prior consent is confirmed, a person
#: asked under soft spam (``DECLARED``) is asked for a new one.
ASKED_FOR = {
    ("it", RequestBasis.PRIOR_CONSENT): "se desidera confermare i consensi che ci aveva dato",
    ("it", RequestBasis.DECLARED): "se desidera ricevere nostre comunicazioni",
    ("en", RequestBasis.PRIOR_CONSENT): "you would like to confirm the consents you gave us",
    ("en", RequestBasis.DECLARED): "whether you would like to hear from us",
}


def make_context(locale: str = "it", **overrides: Any) -> MessageContext:
    values: dict[str, Any] = {
        "wave_name": "spring-2027",
        "locale": locale,
        "controller_name": CONTROLLER,
        "controller_contact": "privacy@example.com",
        "purposes": PURPOSES.get(locale, PURPOSES["en"]),
        "link_lifetime_days": 14,
    }
    values.update(overrides)
    return MessageContext(**values)


def message_builder() -> MakeMessage:
    """A builder of outbound messages with realistic defaults; overrides by keyword."""

    def build(
        attempt_id: int = 1,
        *,
        channel: Channel = Channel.EMAIL,
        locale: str = "it",
        context: MessageContext | None = None,
        **overrides: Any,
    ) -> OutboundMessage:
        values: dict[str, Any] = {
            "attempt_id": attempt_id,
            "request_id": 1000 + attempt_id,
            "channel": channel,
            "to": "anna.rossi@example.com" if channel is Channel.EMAIL else "+393331234567",
            "context": context or make_context(locale),
            "link": f"http://portal.test/c/eyJyIjo{attempt_id}.Z3Xq.sig-{attempt_id:06d}",
            "optout_link": f"http://portal.test/o/eyJyIjo{attempt_id}.Z3Xq.opt-{attempt_id:06d}",
            "to_name": "Anna",
        }
        values.update(overrides)
        return OutboundMessage(**values)

    return build
