"""Message builders and emulated providers (SendGrid, Twilio on 127.0.0.1) for channel tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from channels.base import MessageContext, OutboundMessage, PurposeText
from reconsent.emulators.sendgrid import SendGridEmulator
from reconsent.emulators.server import running_server
from reconsent.emulators.twilio import TwilioEmulator
from reconsent.vocab import Channel

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


def make_context(locale: str = "it", **overrides: Any) -> MessageContext:
    values: dict[str, Any] = {
        "wave_name": "spring-2027",
        "locale": locale,
        "controller_name": "Example Contact Centre S.r.l.",
        "controller_contact": "privacy@example.com",
        "purposes": PURPOSES.get(locale, PURPOSES["en"]),
        "link_lifetime_days": 14,
    }
    values.update(overrides)
    return MessageContext(**values)


@pytest.fixture
def make_message() -> MakeMessage:
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


@pytest.fixture
def make_ctx() -> Callable[..., MessageContext]:
    return make_context


# --- emulated providers, one server each per session; state reset for every test ----------

SENDGRID_KEY = "SG.test-key"
TWILIO_SID = "AC" + "a1" * 16
TWILIO_TOKEN = "test-twilio-token"


@pytest.fixture(scope="session")
def sendgrid_server() -> Iterator[tuple[SendGridEmulator, str]]:
    emulator = SendGridEmulator(api_key=SENDGRID_KEY)
    with running_server(emulator.app()) as url:
        yield emulator, url


@pytest.fixture
def sendgrid(sendgrid_server: tuple[SendGridEmulator, str]) -> SendGridEmulator:
    emulator, _ = sendgrid_server
    emulator.reset()
    return emulator


@pytest.fixture
def sendgrid_url(sendgrid_server: tuple[SendGridEmulator, str]) -> str:
    return sendgrid_server[1]


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[tuple[TwilioEmulator, str]]:
    emulator = TwilioEmulator(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
    with running_server(emulator.app()) as url:
        yield emulator, url


@pytest.fixture
def twilio(twilio_server: tuple[TwilioEmulator, str]) -> TwilioEmulator:
    emulator, _ = twilio_server
    emulator.reset()
    return emulator


@pytest.fixture
def twilio_url(twilio_server: tuple[TwilioEmulator, str]) -> str:
    return twilio_server[1]


@pytest.fixture
def sleeps() -> list[float]:
    """Pass ``sleep=sleeps.append`` to an adapter: its waits are recorded, never slept."""
    return []
