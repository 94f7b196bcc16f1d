"""Provider webhooks end to end: the real SDKs send through the dispatcher to the emulated
providers, and the emulators fire their signed callbacks at the portal (a TestClient).

``world`` seeds people and waves, ticks the dispatcher with the real adapters,
and reads back what the database holds.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x warns once, at import, when its TestClient falls back to httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from channels.sendgrid_email import SendGridEmail
from channels.twilio_calls import TwilioVoice
from channels.twilio_sms import TwilioSms
from consent_portal.app import create_app
from models import (
    ConsentEvent,
    SendAttempt,
    Suppression,
    WaveRequest,
    WebhookEvent,
    suppression_in_force,
)
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.dispatch.batch_report import BatchReport
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.ports import ChannelAdapter
from reconsent.kernel.vocab import Channel
from reconsent.ledger.append import LedgerContext
from reconsent.planning.planner import plan_wave
from reconsent.settings import ChannelMode, Settings
from tests.conftest import make_settings
from tests.support import factories

PORTAL = "http://portal.test"
SENDGRID_KEY = "SG.webhook-tests"
TWILIO_SID = "AC" + "c3" * 16
TWILIO_TOKEN = "test-twilio-token"
SMS_FROM = "+390212345678"
VOICE_FROM = "+390212345679"


@pytest.fixture(scope="session")
def sendgrid_server() -> Iterator[tuple[SendGridEmulator, str]]:
    emulator = SendGridEmulator(api_key=SENDGRID_KEY)
    with running_server(emulator.app()) as url:
        yield emulator, url


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[tuple[TwilioEmulator, str]]:
    emulator = TwilioEmulator(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
    with running_server(emulator.app()) as url:
        yield emulator, url


@pytest.fixture
def sendgrid(sendgrid_server: tuple[SendGridEmulator, str]) -> SendGridEmulator:
    sendgrid_server[0].reset()
    return sendgrid_server[0]


@pytest.fixture
def twilio(twilio_server: tuple[TwilioEmulator, str]) -> TwilioEmulator:
    twilio_server[0].reset()
    return twilio_server[0]


@pytest.fixture
def settings(
    tmp_path: Path,
    db_url: str,
    sendgrid_server: tuple[SendGridEmulator, str],
    twilio_server: tuple[TwilioEmulator, str],
) -> Settings:
    """The portal and the dispatcher configured for the emulated providers."""
    return make_settings(
        tmp_path,
        db_url,
        portal_base_url=PORTAL,
        channel_mode=ChannelMode.PROVIDERS,
        sendgrid_api_key=SENDGRID_KEY,
        sendgrid_api_host=sendgrid_server[1],
        sendgrid_event_public_key=sendgrid_server[0].event_public_key,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_api_base_url=twilio_server[1],
        sms_from=SMS_FROM,
        voice_from=VOICE_FROM,
    )


@pytest.fixture
def client(settings: Settings, clock: FixedClock, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock, engine=engine), base_url=PORTAL) as c:
        yield c


class World:
    """People, waves and ticks against the emulated providers, and what the database says."""

    def __init__(self, engine: Engine, settings: Settings, clock: FixedClock) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.sleeps: list[float] = []
        self._catalog = False

    def adapters(self) -> dict[Channel, ChannelAdapter]:
        s = self.settings
        sid, token = TWILIO_SID, TWILIO_TOKEN
        return {
            Channel.EMAIL: SendGridEmail(
                SENDGRID_KEY, s.sendgrid_api_host, s.email_from, sleep=self.sleeps.append
            ),
            Channel.SMS: TwilioSms(sid, token, SMS_FROM, s.twilio_api_base_url),
            Channel.IVR: TwilioVoice(sid, token, VOICE_FROM, s.twilio_api_base_url),
        }

    def people(self, *names: str, locale: str = "it") -> dict[str, int]:
        """One contact per name (own email and mobile), with a stale consent to each channel:
        eligible anywhere."""
        now = self.clock.now()
        ids: dict[str, int] = {}
        with unit_of_work(self.engine) as session:
            if not self._catalog:
                self.purposes = factories.add_catalog(session, now)
                self._catalog = True
            for name in names:
                contact = factories.add_contact(
                    session,
                    now,
                    name,
                    email=f"{name}@example.it",
                    phone=self.phone(name),
                    locale=locale,
                )
                factories.consent_to_channels(
                    session, now, contact, self.purposes, now - timedelta(days=800)
                )
                ids[name] = contact.id
        return ids

    @staticmethod
    def phone(name: str) -> str:
        """A valid Italian mobile number of its own for each name."""
        return f"+39333{zlib.crc32(name.encode()) % 10_000_000:07d}"

    def wave(self, *channels: str, wait: str = "1d") -> int:
        now = self.clock.now()
        steps = [{"channel": channel, "wait": wait} for channel in channels]
        with unit_of_work(self.engine) as session:
            basis = {"email": "soft_spam"} if "email" in channels else {}
            wave = factories.add_wave(
                session, now, name=f"wave {channels}", steps=steps, lawful_basis=basis
            )
            plan_wave(session, wave, now)
            return wave.id

    def tick(self, *wave_ids: int) -> BatchReport:
        dispatcher = Dispatcher(self.engine, self.settings, self.adapters())
        report = BatchReport()
        for wave_id in wave_ids:
            for lo, hi in dispatcher.due_ranges(wave_id, self.clock.now(), 1000):
                report.merge(dispatcher.advance(wave_id, lo, hi, self.clock.now()))
        return report

    def attempts(self) -> list[SendAttempt]:
        with unit_of_work(self.engine) as session:
            return list(session.scalars(select(SendAttempt).order_by(SendAttempt.id)))

    def attempt(self, attempt_id: int) -> SendAttempt:
        with unit_of_work(self.engine) as session:
            return session.get_one(SendAttempt, attempt_id)

    def request(self, request_id: int) -> WaveRequest:
        with unit_of_work(self.engine) as session:
            return session.get_one(WaveRequest, request_id)

    def suppressions(self) -> list[Suppression]:
        """The suppressions in force (a lifted one stays in the table, as history)."""
        with unit_of_work(self.engine) as session:
            query = select(Suppression).where(suppression_in_force()).order_by(Suppression.id)
            return list(session.scalars(query))

    def webhook_events(self) -> int:
        with unit_of_work(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(WebhookEvent)) or 0)

    def ledger_context(self) -> LedgerContext:
        return LedgerContext(
            controller=self.settings.controller_name,
            jurisdiction=self.settings.jurisdiction,
            now=self.clock.now(),
            evidence_key=self.settings.evidence_wrapping_key(),
        )

    def snapshot(self) -> tuple[object, ...]:
        """Everything a callback could change, to assert that one changed nothing."""
        with unit_of_work(self.engine) as session:
            attempts = session.execute(
                select(
                    SendAttempt.id,
                    SendAttempt.status,
                    SendAttempt.delivery_status,
                    SendAttempt.error_code,
                    SendAttempt.next_retry_at,
                ).order_by(SendAttempt.id)
            ).all()
            requests = session.execute(
                select(
                    WaveRequest.id,
                    WaveRequest.status,
                    WaveRequest.step_sent_at,
                    WaveRequest.next_action_at,
                ).order_by(WaveRequest.id)
            ).all()
            events = session.scalar(select(func.count()).select_from(ConsentEvent))
            suppressions = session.scalar(select(func.count()).select_from(Suppression))
            keys = session.scalar(select(func.count()).select_from(WebhookEvent))
        return tuple(attempts), tuple(requests), events, suppressions, keys


@pytest.fixture
def world(engine: Engine, settings: Settings, clock: FixedClock) -> World:
    return World(engine, settings, clock)
