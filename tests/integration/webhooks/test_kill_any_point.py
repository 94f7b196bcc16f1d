"""``kill -9`` at any point of a batch: no duplicate, no loss, nothing lost reported as sent.

A dispatcher process (the real SDKs against the emulated providers) sends a
paced batch and is killed with SIGKILL just before or just after one provider
call, the two points where the database and the provider disagree:

* **before**: the chunk is SENDING (committed), the provider never got it;
* **after**: the provider accepted the chunk, its results were never recorded.

Then, as in production: a tick after the claim lease (the lost chunk becomes
``unknown``, never counted as sent; the chunk never claimed goes out), the
provider's own signed reports to the portal (SendGrid's Event Webhook
``processed``, Twilio's status callbacks, whose URL carries our attempt id),
and a tick after the bounded wait (what the provider never reported is sent
again). Everything is measured at the emulator: each person's message arrived
exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from consent_portal.webhooks_sendgrid import EVENTS_PATH
from models import SendAttempt, Wave
from reconsent.campaigns.funnel import wave_funnel
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import AttemptStatus
from reconsent.settings import Settings
from reconsent.wiring import build_adapters
from tests.integration.webhooks.conftest import PORTAL, World

PEOPLE = 30
RATE = 10  # per second: three chunks of ten, the second one is where the process dies
ROOT = Path(__file__).resolve().parents[3]


def _arrived(channel: str, sendgrid: SendGridEmulator, twilio: TwilioEmulator) -> Counter[int]:
    """Attempt id -> how many times its message reached the provider."""
    if channel == "email":
        return Counter(int(d.custom_args["attempt_id"]) for d in sendgrid.deliveries())
    return Counter(
        int(parse_qs(urlsplit(str(m.params["StatusCallback"])).query)["a"][0])
        for m in twilio.created("Messages")
    )


def _report_everything(
    channel: str,
    sendgrid: SendGridEmulator,
    twilio: TwilioEmulator,
    client: TestClient,
    clock: FixedClock,
) -> None:
    """The provider's signed reports of every message it accepted, posted to the portal."""
    if channel == "email":
        now = clock.now()
        events = [sendgrid.event(d, "processed", now=now) for d in sendgrid.deliveries()]
        answer = sendgrid.fire_events(PORTAL + EVENTS_PATH, events, now=now, client=client)
        assert answer.status_code in (200, 204)
        return
    for message in twilio.created("Messages"):
        answer = twilio.fire_status_callback(message.sid or "", "sent", client=client)
        assert answer.status_code == 204


def _statuses(engine: Engine) -> dict[int, AttemptStatus]:
    with unit_of_work(engine) as s:
        return {a: status for a, status in s.execute(select(SendAttempt.id, SendAttempt.status))}


def _funnel(engine: Engine, wave_id: int, channel: str) -> dict[str, int]:
    with unit_of_work(engine) as s:
        counts: dict[str, int] = wave_funnel(s, s.get_one(Wave, wave_id))["channels"][channel]
        return counts


def _payload(settings: Settings, channel: str) -> str:
    values = {
        "database_url": settings.database_url,
        "data_dir": str(settings.data_dir),
        "signing_keys": ",".join(settings.link_signing_keys()),
        "address_hash_key": settings.address_key().decode(),
        "evidence_key": "test-evidence-key",
        "portal_base_url": settings.portal_base_url,
        "channel_mode": settings.channel_mode.value,
        "sendgrid_api_key": "SG.webhook-tests",
        "sendgrid_api_host": settings.sendgrid_api_host,
        "sendgrid_event_public_key": settings.sendgrid_event_public_key,
        "sendgrid_max_inline_retries": 0,
        "twilio_account_sid": settings.twilio_account_sid,
        "twilio_auth_token": "test-twilio-token",
        "twilio_api_base_url": settings.twilio_api_base_url,
        "sms_from": settings.sms_from,
        "voice_from": settings.voice_from,
        "send_rate_per_second": {channel: RATE},
    }
    return json.dumps(values)


@pytest.mark.parametrize("point", ["before", "after"])
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_sigkill_around_a_provider_call_loses_nothing_and_sends_nothing_twice(
    channel: str,
    point: str,
    world: World,
    engine: Engine,
    settings: Settings,
    clock: FixedClock,
    sendgrid: SendGridEmulator,
    twilio: TwilioEmulator,
    client: TestClient,
) -> None:
    world.people(*(f"k{i}" for i in range(PEOPLE)))
    wave_id = world.wave(channel)
    worker = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.tick_worker",
            _payload(settings, channel),
            str(wave_id),
            clock.now().isoformat(),
            f"{point}:2",
        ],
        cwd=ROOT,
        env={**os.environ},
        timeout=120,
        check=False,
    )
    assert worker.returncode == -signal.SIGKILL

    # Killed: the first chunk recorded, the second lost, the third never claimed.
    arrived = _arrived(channel, sendgrid, twilio)
    assert len(arrived) == (RATE if point == "before" else 2 * RATE)
    statuses = _statuses(engine)
    sent = {a for a, status in statuses.items() if status is AttemptStatus.SENT}
    assert len(sent) == RATE and sent <= set(arrived)  # nothing claimed sent that was not
    assert Counter(statuses.values())[AttemptStatus.SENDING] == RATE

    # After the lease: the lost chunk is unknown (not sent), the unclaimed one goes out.
    clock.advance(timedelta(seconds=settings.claim_lease_seconds + 1))
    restarted = Dispatcher(engine, settings, build_adapters(settings), sleep=lambda _s: None)
    for lo, hi in restarted.due_ranges(wave_id, clock.now(), 1000):
        restarted.advance(wave_id, lo, hi, clock.now())
    funnel = _funnel(engine, wave_id, channel)
    assert (funnel["sent"], funnel["unknown"]) == (2 * RATE, RATE)

    # The provider reports what it accepted: a lost outcome it had is confirmed.
    _report_everything(channel, sendgrid, twilio, client, clock)
    confirmed = _funnel(engine, wave_id, channel)
    unconfirmed = RATE if point == "before" else 0
    assert (confirmed["sent"], confirmed["unknown"]) == (PEOPLE - unconfirmed, unconfirmed)

    # After the bounded wait: what the provider never reported is sent again, once.
    clock.advance(timedelta(seconds=settings.unconfirmed_resend_seconds + 1))
    for lo, hi in restarted.due_ranges(wave_id, clock.now(), 1000):
        restarted.advance(wave_id, lo, hi, clock.now())
    for lo, hi in restarted.due_ranges(wave_id, clock.now(), 1000):  # nothing more to send
        restarted.advance(wave_id, lo, hi, clock.now())

    arrived = _arrived(channel, sendgrid, twilio)
    assert len(arrived) == PEOPLE  # nobody lost
    assert set(arrived.values()) == {1}  # nobody twice
    final = _statuses(engine)
    assert set(arrived) == set(final)
    assert Counter(final.values()) == {AttemptStatus.SENT: PEOPLE}
    assert _funnel(engine, wave_id, channel)["unknown"] == 0
