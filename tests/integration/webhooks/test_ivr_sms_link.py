"""IVR key 3: the landing link by SMS, once, to the same person for the same request."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import ConsentEvent, Suppression, Wave
from reconsent.campaigns.funnel import wave_funnel
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.feedback.ivr_sms_link import SMS_LINK_STEP_OFFSET
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    AttemptStatus,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from tests.support.factories import ADDRESS_KEY

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World


def _answer_link(client: TestClient, link: str) -> int:
    """Open the landing page and say yes to every purpose, as a person would."""
    page = client.get(link).text
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    purposes = set(re.findall(r'name="(p\.\w+)" value="yes"', page))
    answer = client.post(link, data={**hidden, **dict.fromkeys(purposes, "yes"), "action": "save"})
    # starlette's TestClient is typed against httpx2 (not installed), so its responses are Any
    status: int = answer.status_code
    return status


def test_key_3_texts_the_landing_link_once_and_the_wave_goes_on(
    world: World,
    twilio: TwilioEmulator,
    sendgrid: SendGridEmulator,
    client: TestClient,
    engine: Engine,
) -> None:
    world.people("anna")
    wave_id = world.wave("ivr", "email")
    world.tick(wave_id)
    [call] = twilio.created("Calls")
    [ivr_attempt] = world.attempts()

    first = twilio.answer_call(call.sid or "", "3", client=client)
    again = twilio.answer_call(call.sid or "", "3", client=client)  # the same CallSid twice

    assert first.gather is not None and "SMS" in first.gather.text
    assert again.gather is not None and again.gather.status_code == 200
    [sms] = twilio.created("Messages")
    assert sms.params["To"] == world.phone("anna")
    [link] = re.findall(r"http://portal\.test/c/[\w.\-]+", sms.params["Body"])
    link_attempt = world.attempts()[-1]
    assert sms.params["StatusCallback"] == (
        f"http://portal.test/webhooks/twilio/sms-status?a={link_attempt.id}"
    )
    assert (link_attempt.channel, link_attempt.step_index, link_attempt.status) == (
        Channel.SMS,
        SMS_LINK_STEP_OFFSET + ivr_attempt.step_index,
        AttemptStatus.SENT,
    )
    assert link_attempt.provider_message_id == sms.sid
    request = world.request(ivr_attempt.request_id)
    assert (request.step_index, request.status) == (0, RequestStatus.ACTIVE)
    assert request.step_sent_at == world.attempt(ivr_attempt.id).sent_at  # untouched

    twilio.fire_status_callback(sms.sid or "", "delivered", client=client)
    assert world.attempt(link_attempt.id).delivery_status == "delivered"
    assert _answer_link(client, link) == 200
    with unit_of_work(engine) as session:
        events = list(session.scalars(select(ConsentEvent).where(ConsentEvent.wave_id == wave_id)))
        funnel = wave_funnel(session, session.get_one(Wave, wave_id))
    assert {
        (e.state, e.method, e.channel, e.attempt_id, e.provider_message_id) for e in events
    } == {(ConsentState.GIVEN, CollectionMethod.PORTAL, Channel.SMS, link_attempt.id, sms.sid)}
    request = world.request(ivr_attempt.request_id)
    assert (request.status, request.answered_channel) == (RequestStatus.CONFIRMED, Channel.SMS)
    assert funnel["channels"]["ivr"]["sent"] == 1
    assert (funnel["channels"]["sms"]["sent"], funnel["channels"]["sms"]["confirmed"]) == (1, 1)


def test_the_escalation_is_not_disturbed_by_a_link_sms(
    world: World, twilio: TwilioEmulator, sendgrid: SendGridEmulator, client: TestClient
) -> None:
    world.people("anna")
    wave_id = world.wave("ivr", "email")
    world.tick(wave_id)
    [call] = twilio.created("Calls")
    twilio.answer_call(call.sid or "", "3", client=client)

    world.tick(wave_id)
    assert sendgrid.accepted() == []  # the call's wait for an answer still runs
    world.clock.advance(timedelta(days=1))
    world.tick(wave_id)
    assert len(sendgrid.accepted()) == 1  # then the next step, as planned


def test_key_3_for_someone_who_cannot_be_texted_sends_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient, engine: Engine
) -> None:
    world.people("anna", locale="en")
    with unit_of_work(engine) as session:
        session.add(
            Suppression(
                address_hash=address_hash(ADDRESS_KEY, AddressKind.PHONE, world.phone("anna")),
                channel=Channel.SMS,
                reason=SuppressionReason.STOP,
                source="test",
                created_at=world.clock.now(),
            )
        )
    world.tick(world.wave("ivr", "email"))
    [call] = twilio.created("Calls")

    answer = twilio.answer_call(call.sid or "", "3", client=client)

    assert answer.gather is not None and "cannot send an SMS" in answer.gather.text
    assert twilio.created("Messages") == [] and len(world.attempts()) == 1


def test_a_link_sms_the_provider_refuses_is_recorded_failed_and_suppresses_the_number(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna")
    wave_id = world.wave("ivr", "email")
    world.tick(wave_id)
    [call] = twilio.created("Calls")
    twilio.fail_number(world.phone("anna"), code=21614)  # not a mobile: no SMS, ever

    answer = twilio.answer_call(call.sid or "", "3", client=client)

    assert answer.gather is not None and answer.gather.status_code == 200
    link_attempt = world.attempts()[-1]
    assert (link_attempt.channel, link_attempt.status, link_attempt.error_code) == (
        Channel.SMS,
        AttemptStatus.FAILED,
        "21614",
    )
    [suppression] = world.suppressions()
    assert (suppression.channel, suppression.reason) == (
        Channel.SMS,
        SuppressionReason.INVALID_ADDRESS,
    )
    request = world.request(link_attempt.request_id)
    assert (request.status, request.step_index) == (RequestStatus.ACTIVE, 0)
