"""A way back by phone: after a yes on the call, an SMS with the link to see, change or
withdraw it; later the person calls our number and withdraws, purpose by purpose or all."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from models import ConsentEvent, Purpose, Suppression
from reconsent.db import unit_of_work
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.vocab import CollectionMethod, ConsentState, SuppressionReason
from tests.integration.webhooks.conftest import PORTAL, World

INBOUND = PORTAL + "/webhooks/twilio/voice/inbound"


def _states(world: World, contact_id: int) -> list[tuple[str, ConsentState, CollectionMethod]]:
    with unit_of_work(world.engine) as s:
        rows = s.execute(
            select(Purpose.code, ConsentEvent.state, ConsentEvent.method)
            .join(Purpose, Purpose.id == ConsentEvent.purpose_id)
            .where(ConsentEvent.contact_id == contact_id)
            .order_by(ConsentEvent.id)
        ).all()
    return [(code, state, method) for code, state, method in rows]


def test_a_yes_by_phone_is_confirmed_by_sms_and_withdrawn_by_calling_back(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    anna = world.people("anna")["anna"]
    world.tick(world.wave("ivr"))
    [call] = twilio.created("Calls")

    answered = twilio.answer_call(call.sid or "", ["1", "2", "1"], client=client)

    assert answered.gather is not None and "SMS" in answered.gather.text
    [sms] = twilio.created("Messages")
    assert sms.params["To"] == world.phone("anna")
    body = str(sms.params["Body"])
    assert "al telefono" in body and "revocare" in body
    [link] = re.findall(r"http://portal\.test/c/[\w.\-]+", body)
    assert client.get(link).status_code == 200  # the person's choices, to change them

    # Later: Anna calls our number, hears what she agreed to, withdraws the first one.
    before = len(_states(world, anna))
    back = twilio.call_in(INBOUND, from_=world.phone("anna"), digits=["1"], client=client)

    assert "Offerte" in back.voice.text and "prema 1" in back.voice.text
    assert back.gather is not None and "Revocato" in back.gather.text
    [(code, state, method)] = _states(world, anna)[before:]
    assert (code, state, method) == (
        "marketing_email",
        ConsentState.WITHDRAWN,
        CollectionMethod.IVR,
    )
    # The menu now lists what is left: calls (she said no to SMS on the call).
    assert "revocare Offerte via email" in back.voice.text
    assert "revocare Offerte per telefono prema 1" in back.gather.text
    assert "revocare Offerte via email" not in back.gather.text

    # And then stops everything: an objection, every channel.
    twilio.call_in(INBOUND, from_=world.phone("anna"), digits=["9"], client=client)
    with unit_of_work(world.engine) as s:
        reasons = set(s.scalars(select(Suppression.reason).where(Suppression.contact_id == anna)))
    assert reasons == {SuppressionReason.OBJECTION}
    assert not [c for c, state, _ in _states(world, anna)[-2:] if state is ConsentState.GIVEN]


def test_an_unknown_number_or_a_forged_call_records_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    before = world.snapshot()

    stranger = twilio.call_in(INBOUND, from_="+393339990000", digits=["9"], client=client)
    forged = client.post(
        INBOUND,
        data={"CallSid": "CA" + "1" * 32, "From": world.phone("anna"), "Digits": "9"},
    )
    outbound = twilio.post_signed(
        INBOUND + "/choice",
        {
            "CallSid": "CA" + "2" * 32,
            "AccountSid": twilio.account_sid,
            "From": world.phone("anna"),
            "To": "+390212345678",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",  # not a call to us
            "ApiVersion": "2010-04-01",
            "Digits": "9",
        },
        client=client,
    )

    assert "Non troviamo" in stranger.voice.text and stranger.gather is None
    assert forged.status_code == 403
    assert outbound.status_code == 200 and "<Gather" not in outbound.text
    assert world.snapshot() == before
