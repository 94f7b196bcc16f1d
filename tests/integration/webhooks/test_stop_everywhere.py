"""Must hold: each "no" stops what it says, in every wave, at once: STOP stops SMS, a DTMF 9
stops calls, STOPALL stops everything (real SDKs, emulated providers, signed callbacks, the
dispatcher ticking two waves), and nobody else is touched."""

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
    owner = {world.phone(n): n for n in ("anna", "bruno", "carla", "dora")}
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


def test_stop_9_and_stopall_each_stop_what_they_say_in_every_wave(
    world: World, twilio: TwilioEmulator, sendgrid: SendGridEmulator, client: TestClient
) -> None:
    ids = world.people("anna", "bruno", "carla", "dora")
    first = world.wave("sms", "ivr", "email")
    second = world.wave("email", "sms", "ivr")
    world.tick(first, second)  # Tuesday: an SMS (first wave) and an email (second) to each

    anna_phone, dora_phone = world.phone("anna"), world.phone("dora")
    stopall = twilio.fire_inbound_sms(INBOUND, from_=anna_phone, body="STOPALL", client=client)
    stop = twilio.fire_inbound_sms(INBOUND, from_=dora_phone, body="Stop", client=client)
    assert stopall.status_code == stop.status_code == 200
    anna_at_stop = _of(_received(world, twilio, sendgrid), "anna")
    assert anna_at_stop == {"anna:sms": 1, "anna:email": 1}
    dora_at_stop = _of(_received(world, twilio, sendgrid), "dora")

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
    assert _of(got, "anna") == anna_at_stop  # nothing after STOPALL, in either wave
    # no SMS after STOP, in either wave; e-mail and calls go on
    dora = _of(got, "dora")
    assert dora["dora:sms"] == dora_at_stop["dora:sms"] == 1
    assert dora["dora:email"] == 2 and dora["dora:ivr"] == 2
    # no call after 9, in either wave; the e-mail of the first wave still goes out
    bruno = _of(got, "bruno")
    assert bruno["bruno:ivr"] == 1 and bruno["bruno:sms"] == 2 and bruno["bruno:email"] == 2
    assert _of(got, "carla") == {"carla:sms": 2, "carla:email": 2, "carla:ivr": 2}
    name_of = {contact_id: name for name, contact_id in ids.items()}
    statuses: dict[str, set[tuple[RequestStatus, str | None]]] = {}
    for attempt in world.attempts():
        request = world.request(attempt.request_id)
        statuses.setdefault(name_of[request.contact_id], set()).add(
            (request.status, request.close_reason)
        )
    assert statuses == {
        "anna": {(RequestStatus.REFUSED, "stop")},  # STOPALL closed both of her requests
        "bruno": {(RequestStatus.EXPIRED, "no_answer")},  # 9 answered no purpose
        "carla": {(RequestStatus.EXPIRED, "no_answer")},  # asked everywhere, never answered
        "dora": {(RequestStatus.EXPIRED, "no_answer")},
    }
