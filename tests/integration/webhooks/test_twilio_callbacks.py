"""Twilio message and call status callbacks: signed, applied once, mapped to the request state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from models import SendAttempt
from reconsent.db import unit_of_work
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import AttemptStatus, Channel, SuppressionReason

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World

SMS_STATUS = "http://portal.test/webhooks/twilio/sms-status"


def _sms_out(world: World, *steps: str) -> tuple[int, int, str]:
    """One person, one wave, one tick: (attempt id, request id, MessageSid / CallSid)."""
    world.people("anna")
    world.tick(world.wave(*(steps or ("sms", "ivr", "email"))))
    [attempt] = world.attempts()
    assert attempt.status is AttemptStatus.SENT and attempt.provider_message_id
    return attempt.id, attempt.request_id, attempt.provider_message_id


def test_a_genuine_status_callback_is_applied_once(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    attempt_id, _, sid = _sms_out(world)

    first = twilio.fire_status_callback(sid, "delivered", client=client)
    after_first = world.snapshot()
    again = twilio.fire_status_callback(sid, "delivered", client=client)
    late = twilio.fire_status_callback(sid, "sent", client=client)  # out of order

    assert (first.status_code, again.status_code, late.status_code) == (204, 204, 204)
    assert world.snapshot()[:4] == after_first[:4]  # the same callback twice changed nothing
    attempt = world.attempt(attempt_id)
    assert (attempt.status, attempt.delivery_status) == (AttemptStatus.SENT, "delivered")
    assert world.webhook_events() == 2  # delivered, sent: one key each


def test_forged_unsigned_or_tampered_callbacks_are_refused_and_change_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    _, _, sid = _sms_out(world)
    before = world.snapshot()
    url, params = twilio.status_callback(sid, "undelivered", error_code=21610)
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    genuine = twilio.sign(url, params)
    answers = [
        client.post(url, data=params, headers={"X-Twilio-Signature": forged}),
        client.post(url, data=params),
        client.post(
            url, data={**params, "ErrorCode": "30003"}, headers={"X-Twilio-Signature": genuine}
        ),
        client.post(url + "?x=1", data=params, headers={"X-Twilio-Signature": genuine}),
    ]

    assert [a.status_code for a in answers] == [403] * 4
    assert world.snapshot() == before


def test_a_permanent_sms_failure_escalates_at_once_and_suppresses_the_number(
    world: World, twilio: TwilioEmulator, client: TestClient, clock: FixedClock
) -> None:
    attempt_id, request_id, sid = _sms_out(world)

    twilio.fire_status_callback(sid, "undelivered", error_code=21610, client=client)

    attempt = world.attempt(attempt_id)
    assert (attempt.status, attempt.delivery_status, attempt.error_code) == (
        AttemptStatus.FAILED,
        "undelivered",
        "21610",
    )
    request = world.request(request_id)
    assert request.step_sent_at is None and request.next_action_at == clock.now()
    [suppression] = world.suppressions()
    assert (suppression.channel, suppression.reason) == (
        Channel.SMS,
        SuppressionReason.INVALID_ADDRESS,
    )
    assert suppression.address_hash and world.phone("anna") not in suppression.source
    world.tick(request.wave_id)  # the next step goes out at once
    [call] = twilio.created("Calls")
    assert call.params["To"] == world.phone("anna")


def test_a_transient_sms_failure_is_sent_again_then_escalates(
    world: World, twilio: TwilioEmulator, client: TestClient, clock: FixedClock
) -> None:
    attempt_id, request_id, sid = _sms_out(world)
    wave_id = world.request(request_id).wave_id
    sids = [sid]
    for tries in (1, 2):
        twilio.fire_status_callback(sids[-1], "undelivered", error_code=30003, client=client)
        attempt = world.attempt(attempt_id)
        assert (attempt.status, attempt.tries) == (AttemptStatus.RETRY, tries)
        assert attempt.next_retry_at is not None and attempt.next_retry_at > clock.now()
        world.tick(wave_id)  # not yet due
        assert len(twilio.created("Messages")) == tries
        clock.set(attempt.next_retry_at)
        world.tick(wave_id)
        sids.append(world.attempt(attempt_id).provider_message_id or "")
    assert len(set(sids)) == 3 and len(twilio.created("Messages")) == 3

    twilio.fire_status_callback(sids[-1], "undelivered", error_code=30003, client=client)

    attempt = world.attempt(attempt_id)
    assert (attempt.status, attempt.tries, attempt.error_code) == (
        AttemptStatus.FAILED,
        world.settings.send_max_tries,
        "30003",
    )
    assert world.suppressions() == []  # a carrier hiccup says nothing about the number
    world.tick(wave_id)
    assert len(twilio.created("Calls")) == 1


def test_nobody_answering_the_call_escalates_at_once(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    attempt_id, request_id, sid = _sms_out(world, "ivr", "sms")
    url, params = twilio.status_callback(sid, "no-answer")
    forged = RequestValidator("guess").compute_signature(url, params)
    before = world.snapshot()
    assert client.post(url, data=params, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert world.snapshot() == before

    twilio.fire_status_callback(sid, "ringing", client=client)
    assert world.attempt(attempt_id).delivery_status == "ringing"
    twilio.fire_status_callback(sid, "no-answer", client=client)

    attempt = world.attempt(attempt_id)
    assert (attempt.status, attempt.delivery_status) == (AttemptStatus.FAILED, "no-answer")
    assert world.suppressions() == []
    world.tick(world.request(request_id).wave_id)
    assert len(twilio.created("Messages")) == 1


def test_an_answered_call_waits_for_the_key(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    attempt_id, request_id, sid = _sms_out(world, "ivr", "sms")

    twilio.fire_status_callback(sid, "completed", client=client)

    assert world.attempt(attempt_id).delivery_status == "completed"
    world.tick(world.request(request_id).wave_id)
    assert twilio.created("Messages") == []


def test_unknown_sids_and_incomplete_callbacks_change_nothing(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    _sms_out(world)
    before = world.snapshot()
    unknown = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}

    answers = [
        twilio.post_signed(SMS_STATUS, unknown, client=client),
        twilio.post_signed(SMS_STATUS, {"MessageSid": "SM1"}, client=client),
    ]

    assert [a.status_code for a in answers] == [204, 400]
    assert world.snapshot() == before


def test_a_status_callback_confirms_an_attempt_whose_sid_a_crash_lost(
    world: World, twilio: TwilioEmulator, client: TestClient, engine: Engine
) -> None:
    attempt_id, _, sid = _sms_out(world)
    with unit_of_work(engine) as s:  # as a kill -9 after Twilio answered leaves it
        lost = s.get_one(SendAttempt, attempt_id)
        lost.status, lost.provider_message_id = AttemptStatus.UNKNOWN, None

    answer = twilio.fire_status_callback(sid, "sent", client=client)

    assert answer.status_code == 204
    attempt = world.attempt(attempt_id)
    assert (attempt.status, attempt.provider_message_id) == (AttemptStatus.SENT, sid)


def test_a_callback_is_bound_to_the_message_its_attempt_went_out_as(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    world.people("anna", "bruno")
    world.tick(world.wave("sms"))
    first, second = world.attempts()
    before = world.snapshot()
    # A genuinely signed callback for the first attempt's URL, carrying the second's sid.
    url, _ = twilio.status_callback(first.provider_message_id or "", "undelivered")
    _, params = twilio.status_callback(second.provider_message_id or "", "undelivered")
    answer = twilio.post_signed(url, params, client=client)

    assert answer.status_code == 204
    assert world.snapshot()[:2] == before[:2]  # neither attempt changed
