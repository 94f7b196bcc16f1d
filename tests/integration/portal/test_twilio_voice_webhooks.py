"""Twilio voice webhooks: signatures, the call script and the recorded DTMF answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from consent_portal.app import create_app
from models import Purpose
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.settings import Settings

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded

AUTH_TOKEN = "test-twilio-token"
VOICE = "/webhooks/twilio/voice"
GATHER = "/webhooks/twilio/voice/gather"
CALLEE = "+393331234567"


def _post(
    client: TestClient, path: str, token: str, params: dict[str, str], *, key: str = AUTH_TOKEN
) -> tuple[int, str]:
    url = f"http://portal.test{path}?t={token}"
    signature = RequestValidator(key).compute_signature(url, params)
    response = client.post(
        f"{path}?t={token}", data=params, headers={"X-Twilio-Signature": signature}
    )
    return response.status_code, response.text


def _answer(digits: str, call_sid: str = "CA" + "1" * 32) -> dict[str, str]:
    return {"CallSid": call_sid, "Digits": digits, "To": CALLEE, "AnsweredBy": "human"}


def test_a_forged_or_missing_signature_is_refused_and_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)
    forged = _post(client, GATHER, token, _answer("1"), key="not-the-token")
    missing = client.post(f"{GATHER}?t={token}", data=_answer("1"))
    # Signed for the Host the request reached, not for our public base URL.
    params = _answer("1")
    wrong_host = RequestValidator(AUTH_TOKEN).compute_signature(
        f"http://evil.test{GATHER}?t={token}", params
    )
    host_based = client.post(
        f"{GATHER}?t={token}", data=params, headers={"X-Twilio-Signature": wrong_host}
    )

    assert forged[0] == missing.status_code == host_based.status_code == 403
    assert db.events() == [] and db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_without_an_auth_token_every_webhook_is_refused(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    unsigned = settings.model_copy(update={"twilio_auth_token": None})
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)
    with TestClient(create_app(unsigned, clock=clock, engine=engine)) as client:
        status, _ = _post(client, VOICE, token, {"CallSid": "CA1", "AnsweredBy": "human"})
    assert status == 403


def test_a_person_hears_the_menu_with_the_gather_action(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    status, twiml = _post(client, VOICE, token, {"CallSid": "CA1", "AnsweredBy": "human"})

    assert status == 200
    assert "<Gather" in twiml
    assert f'action="http://portal.test{GATHER}?t={token}"' in twiml
    assert 'language="it-IT"' in twiml and "Offerte via email" in twiml
    assert db.events() == []


def test_a_machine_gets_the_voicemail_message(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    status, twiml = _post(
        client, VOICE, token, {"CallSid": "CA1", "AnsweredBy": "machine_end_beep"}
    )

    assert status == 200
    assert "<Gather" not in twiml and "portal.test" in twiml and "<Hangup" in twiml
    assert db.events() == []


def test_key_1_gives_every_purpose_once_even_when_posted_twice(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    first = _post(client, GATHER, token, _answer("1"))
    second = _post(client, GATHER, token, _answer("1"))

    assert first == second and first[0] == 200 and "<Say" in first[1]
    events = db.events()
    assert [(e.state, e.method, e.channel) for e in events] == [
        (ConsentState.GIVEN, CollectionMethod.IVR, Channel.IVR)
    ] * len(seeded.purposes)
    for event in events:
        assert event.provider_message_id == "CA" + "1" * 32
        assert event.evidence["call_sid"] == "CA" + "1" * 32
        assert event.evidence["digits"] == "1" and len(event.evidence["to_hash"]) == 64
        assert CALLEE not in str(event.evidence)
        assert event.notice_version == "2026-09" and event.notice_digest
    request = db.request(seeded.request_id)
    assert (request.status, request.answered_channel) == (RequestStatus.CONFIRMED, Channel.IVR)


def test_key_2_refuses_every_purpose(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    assert _post(client, GATHER, token, _answer("2"))[0] == 200

    assert {e.state for e in db.events()} == {ConsentState.REFUSED}
    assert db.request(seeded.request_id).status is RequestStatus.REFUSED


def test_key_9_stops_calls_once_and_leaves_the_other_channels(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)
    _post(client, GATHER, token, _answer("1", call_sid="CA-first"))

    for _ in range(2):
        status, body = _post(client, GATHER, token, _answer("9", call_sid="CA-second"))
        assert status == 200

    assert "STOPALL" in body  # how to stop e-mails and SMS too
    events = db.events()
    assert [e.state for e in events] == [ConsentState.GIVEN] * 3 + [ConsentState.WITHDRAWN]
    with unit_of_work(db.engine) as session:
        assert session.get_one(Purpose, events[-1].purpose_id).code == "marketing_phone"
    rows = {(s.address_hash is None, s.channel, s.reason) for s in db.suppressions()}
    assert rows == {
        (True, Channel.IVR, SuppressionReason.OBJECTION),  # this contact, calls only
        (False, Channel.IVR, SuppressionReason.OBJECTION),  # and the number, for calls
    }
    request = db.request(seeded.request_id)
    assert (request.status, request.close_reason) == (RequestStatus.CONFIRMED, "answered")


def test_key_9_on_an_open_request_suppresses_calls_and_keeps_it_open(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    _post(client, GATHER, token, _answer("9"))

    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE
    assert db.events() == []  # nothing was given, so nothing to withdraw
    assert {s.channel for s in db.suppressions()} == {Channel.IVR}


def test_key_3_other_keys_and_silence_record_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)

    sms = _post(client, GATHER, token, _answer("3"))
    other = _post(client, GATHER, token, _answer("7"))
    silence = _post(client, GATHER, token, {"CallSid": "CA1", "To": CALLEE})

    assert sms[0] == other[0] == silence[0] == 200
    assert "SMS" in sms[1]
    assert db.events() == [] and db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_an_ivr_token_does_not_open_the_landing_page_and_a_bad_one_hangs_up(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    landing = signer.sign(LinkUse.LANDING, seeded.request_id)

    status, twiml = _post(client, GATHER, landing, _answer("1"))

    assert status == 200 and "<Hangup" in twiml and "<Say" not in twiml
    assert db.events() == []


def test_a_recorded_script_for_the_locale_is_played(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    recorded = settings.model_copy(update={"ivr_audio_urls": {"it": "https://cdn.test/it.mp3"}})
    token = signer.sign(LinkUse.IVR, seeded.request_id, 2)
    with TestClient(create_app(recorded, clock=clock, engine=engine)) as client:
        status, twiml = _post(client, VOICE, token, {"CallSid": "CA1", "AnsweredBy": "human"})
    assert status == 200
    assert "<Play>https://cdn.test/it.mp3</Play>" in twiml
