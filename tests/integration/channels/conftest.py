"""Message builders and emulated providers (SendGrid, Twilio on 127.0.0.1) for channel tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.ports import MessageContext
from tests.support.messages import MakeMessage, make_context, message_builder

__all__ = ["MakeMessage"]


@pytest.fixture
def make_message() -> MakeMessage:
    return message_builder()


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
