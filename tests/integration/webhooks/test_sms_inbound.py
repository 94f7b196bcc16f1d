"""Inbound SMS replies: STOP objects everywhere, START re-allows messaging only, help otherwise."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from tests.support.evidence import opened
from tests.support.factories import ADDRESS_KEY

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World

INBOUND = "http://portal.test/webhooks/twilio/sms-inbound"


def _events(engine: Engine) -> list[ConsentEvent]:
    with unit_of_work(engine) as session:
        return list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def test_stop_stops_sms_only_and_suppresses_the_number(
    world: World,
    twilio: TwilioEmulator,
    sendgrid: SendGridEmulator,
    client: TestClient,
    engine: Engine,
) -> None:
    ids = world.people("anna", "bruno")
    first, second = world.wave("sms", "ivr"), world.wave("email", "sms")
    world.tick(first, second)
    before = len(_events(engine))

    reply = twilio.fire_inbound_sms(
        INBOUND, from_=world.phone("anna"), body=" Stop ", client=client
    )

    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
    assert "<Message>" in reply.text and "non riceverà più SMS" in reply.text
    assert "STOPALL" in reply.text  # how to stop the rest
    assert world.settings.controller_name in reply.text
    # A STOP for SMS stops SMS: the requests go on by e-mail and phone.
    for attempt in world.attempts():
        assert world.request(attempt.request_id).status is RequestStatus.ACTIVE
    [withdrawal] = _events(engine)[before:]  # anna's SMS consent, and only that one
    assert (withdrawal.contact_id, withdrawal.state, withdrawal.method, withdrawal.channel) == (
        ids["anna"],
        ConsentState.WITHDRAWN,
        CollectionMethod.SMS,
        Channel.SMS,
    )
    with unit_of_work(engine) as session:
        code = session.get_one(Purpose, withdrawal.purpose_id).code
    assert code == "marketing_sms"
    evidence = opened(engine, withdrawal)
    assert evidence["keyword"] == "STOP" and evidence["message_sid"]
    assert world.phone("anna") not in str(evidence)  # the number only as its hash
    digest = address_hash(ADDRESS_KEY, AddressKind.PHONE, world.phone("anna"))
    assert evidence["from_hash"] == digest
    assert {(s.contact_id, s.address_hash, s.channel, s.reason) for s in world.suppressions()} == {
        (ids["anna"], None, Channel.SMS, SuppressionReason.STOP),
        (ids["anna"], digest, Channel.SMS, SuppressionReason.STOP),
    }


def test_stopall_objects_everywhere_and_closes_every_open_request(
    world: World, twilio: TwilioEmulator, client: TestClient, engine: Engine
) -> None:
    ids = world.people("anna", "bruno")
    first, second = world.wave("sms", "ivr"), world.wave("email", "sms")
    world.tick(first, second)
    before = len(_events(engine))

    reply = twilio.fire_inbound_sms(
        INBOUND, from_=world.phone("anna"), body="STOPALL", client=client
    )

    assert reply.status_code == 200 and "nessun mezzo" in reply.text
    for attempt in world.attempts():
        request = world.request(attempt.request_id)
        if request.contact_id == ids["anna"]:
            assert (request.status, request.close_reason) == (RequestStatus.REFUSED, "stop")
        else:
            assert request.status is RequestStatus.ACTIVE
    withdrawn = _events(engine)[before:]
    assert {e.state for e in withdrawn} == {ConsentState.WITHDRAWN} and len(withdrawn) == 3
    mine = {(s.address_hash is None, s.channel) for s in world.suppressions()}
    assert mine == {
        (True, None),
        (False, Channel.EMAIL),
        (False, Channel.SMS),
        (False, Channel.IVR),
    }


def test_italian_keywords_work_and_the_same_message_twice_changes_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    sid = "SM" + "5" * 32

    first = twilio.fire_inbound_sms(
        INBOUND, from_=world.phone("anna"), body="ANNULLA", message_sid=sid, client=client
    )
    after_first = world.snapshot()
    again = twilio.fire_inbound_sms(
        INBOUND, from_=world.phone("anna"), body="ANNULLA", message_sid=sid, client=client
    )

    assert "<Message>" in first.text
    assert again.status_code == 200 and "<Message" not in again.text  # not texted twice
    assert world.snapshot() == after_first
    assert {s.reason for s in world.suppressions()} == {SuppressionReason.STOP}


def test_stop_from_a_number_not_in_the_base_suppresses_that_number(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    stranger = "+393479876543"

    reply = twilio.fire_inbound_sms(INBOUND, from_=stranger, body="basta", client=client)

    assert reply.status_code == 200 and "non riceverà" in reply.text  # the controller's language
    [suppression] = world.suppressions()
    assert (suppression.contact_id, suppression.channel, suppression.address_hash) == (
        None,
        Channel.SMS,
        address_hash(ADDRESS_KEY, AddressKind.PHONE, stranger),
    )


def test_start_re_allows_messaging_but_is_never_consent(
    world: World,
    twilio: TwilioEmulator,
    sendgrid: SendGridEmulator,
    client: TestClient,
    engine: Engine,
) -> None:
    ids = world.people("anna", locale="en")
    wave = world.wave("email", "sms")
    world.tick(wave)
    twilio.fire_inbound_sms(INBOUND, from_=world.phone("anna"), body="STOP", client=client)
    events_after_stop = len(_events(engine))

    reply = twilio.fire_inbound_sms(INBOUND, from_=world.phone("anna"), body="start", client=client)

    assert "can receive our SMS again" in reply.text and "not consent" in reply.text
    assert world.suppressions() == []  # the number (and anna) may be texted again...
    assert len(_events(engine)) == events_after_stop
    with unit_of_work(engine) as session:
        states = {
            session.get_one(Purpose, row.purpose_id).code: row.state
            for row in session.scalars(select(ConsentStatus))
        }
    # ...but START is never consent: the SMS consent stays withdrawn, so no wave texts her.
    assert states == {
        "marketing_email": ConsentState.GIVEN,
        "marketing_sms": ConsentState.WITHDRAWN,
        "marketing_phone": ConsentState.GIVEN,
    }
    assert ids["anna"]
    world.tick(world.wave("sms", "email"))  # a new wave after START
    assert twilio.created("Messages") == [] and len(sendgrid.accepted()) == 2


def test_help_and_anything_else_name_the_controller_the_keyword_and_the_optout_link(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    world.people("bob", locale="en")
    world.tick(world.wave("sms", "ivr"))
    before = world.snapshot()

    info = twilio.fire_inbound_sms(INBOUND, from_=world.phone("anna"), body="INFO", client=client)
    chat = twilio.fire_inbound_sms(INBOUND, from_=world.phone("bob"), body="Yes!", client=client)

    assert "risponda STOP" in info.text and "reply STOP" in chat.text
    for answer in (info, chat):
        assert world.settings.controller_name in answer.text
        [link] = re.findall(r"http://portal\.test/o/[\w.\-]+", answer.text)
        assert client.get(link).status_code == 200  # the one-click opt-out page
    assert world.snapshot()[:4] == before[:4]  # nothing recorded but the two messages' keys


def test_a_forged_inbound_sms_is_refused_and_changes_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    before = world.snapshot()
    params = {"MessageSid": "SM" + "6" * 32, "From": world.phone("anna"), "Body": "STOP"}
    forged = RequestValidator("guess").compute_signature(INBOUND, params)

    refused = client.post(INBOUND, data=params, headers={"X-Twilio-Signature": forged})

    assert refused.status_code == 403 and world.snapshot() == before
