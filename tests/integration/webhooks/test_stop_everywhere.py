"""Must hold: an SMS STOP reply and a DTMF 9 each stop every later step of every wave for that
person (real SDKs, emulated providers, signed callbacks, the dispatcher ticking two waves)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.testclient import TestClient

from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.vocab import RequestStatus

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World

INBOUND = "http://portal.test/webhooks/twilio/sms-inbound"


def _received(world: World, twilio: TwilioEmulator, sendgrid: SendGridEmulator) -> Counter[str]:
    """What reached each person so far: ``name:channel`` -> count, from the providers' side."""
    owner = {world.phone(n): n for n in ("anna", "bruno", "carla")}
    got: Counter[str] = Counter()
    for message in twilio.created("Messages"):
        got[f"{owner[message.params['To']]}:sms"] += 1
    for call in twilio.created("Calls"):
        got[f"{owner[call.params['To']]}:ivr"] += 1
    for delivery in sendgrid.deliveries():
        got[f"{delivery.to[0]['email'].split('@')[0]}:email"] += 1
    return got


def _of(got: Counter[str], name: str) -> dict[str, int]:
    return {key: count for key, count in got.items() if key.startswith(f"{name}:")}


def test_an_sms_stop_and_a_dtmf_9_stop_every_later_step_of_every_wave(
    world: World, twilio: TwilioEmulator, sendgrid: SendGridEmulator, client: TestClient
) -> None:
    ids = world.people("anna", "bruno", "carla")
    first = world.wave("sms", "ivr", "email")
    second = world.wave("email", "sms", "ivr")
    world.tick(first, second)  # Tuesday: an SMS (first wave) and an email (second) to each

    stop = twilio.fire_inbound_sms(INBOUND, from_=world.phone("anna"), body="Stop", client=client)
    assert stop.status_code == 200
    anna_at_stop = _of(_received(world, twilio, sendgrid), "anna")
    assert anna_at_stop == {"anna:sms": 1, "anna:email": 1}

    world.clock.advance(timedelta(days=1))
    world.tick(first, second)  # Wednesday: calls (first wave), SMS (second wave)
    [bruno_call] = [c for c in twilio.created("Calls") if c.params["To"] == world.phone("bruno")]
    pressed = twilio.answer_call(bruno_call.sid or "", "9", client=client)
    assert pressed.gather is not None and pressed.gather.status_code == 200
    bruno_at_nine = _of(_received(world, twilio, sendgrid), "bruno")
    assert bruno_at_nine == {"bruno:sms": 2, "bruno:email": 1, "bruno:ivr": 1}

    for _day in range(4):  # Thursday to Sunday: every remaining step and the expiry
        world.clock.advance(timedelta(days=1))
        world.tick(first, second)

    got = _received(world, twilio, sendgrid)
    assert _of(got, "anna") == anna_at_stop  # nothing after STOP, in either wave
    assert _of(got, "bruno") == bruno_at_nine  # nothing after 9, in either wave
    assert _of(got, "carla") == {"carla:sms": 2, "carla:email": 2, "carla:ivr": 2}
    name_of = {contact_id: name for name, contact_id in ids.items()}
    statuses: dict[str, set[tuple[RequestStatus, str | None]]] = {}
    for attempt in world.attempts():
        request = world.request(attempt.request_id)
        statuses.setdefault(name_of[request.contact_id], set()).add(
            (request.status, request.close_reason)
        )
    assert statuses == {
        "anna": {(RequestStatus.REFUSED, "stop")},  # STOP closed both of her requests
        "bruno": {
            (RequestStatus.REFUSED, "objection"),  # the call he answered with 9
            (RequestStatus.CANCELLED, "withdrawn"),  # the other wave, at its next tick
        },
        "carla": {(RequestStatus.EXPIRED, "no_answer")},  # asked everywhere, never answered
    }
