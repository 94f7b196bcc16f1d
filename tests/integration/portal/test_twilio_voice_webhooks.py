"""Twilio voice webhooks: signatures, the spoken notice, one question per purpose, and
answers bound to the call we placed (replays, other calls, closed requests record nothing)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from consent_portal.app import create_app
from models import ConsentStatus, Notice, Purpose, SendAttempt, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.objections import record_objection
from reconsent.settings import Settings
from tests.conftest import TWILIO_ACCOUNT
from tests.support.evidence import opened

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded

AUTH_TOKEN = "test-twilio-token"
VOICE = "/webhooks/twilio/voice"
GATHER = "/webhooks/twilio/voice/gather"
CALLEE = "+393331234567"  # the seeded contact's mobile
CALL = "CA" + "1" * 32
STEP = 2  # the IVR step of the factory wave


def _post(
    client: TestClient,
    path: str,
    token: str,
    params: dict[str, str],
    *,
    key: str = AUTH_TOKEN,
    question: int | None = None,
) -> tuple[int, str]:
    query = f"t={token}" + ("" if question is None else f"&q={question}")
    url = f"http://portal.test{path}?{query}"
    signature = RequestValidator(key).compute_signature(url, params)
    response = client.post(
        f"{path}?{query}", data=params, headers={"X-Twilio-Signature": signature}
    )
    return response.status_code, response.text


def _call(call_sid: str = CALL, **extra: str) -> dict[str, str]:
    """Every parameter Twilio sends with a voice request of our outbound call."""
    return {
        "AccountSid": TWILIO_ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "From": "+390212345679",
        "To": CALLEE,
        "AnsweredBy": "human",
        **extra,
    }


def _answer(digits: str, call_sid: str = CALL) -> dict[str, str]:
    return _call(call_sid, Digits=digits)


def _placed(db: Db, seeded: Seeded, sid: str = CALL) -> None:
    """The IVR attempt the dispatcher recorded for the seeded request (step 2)."""
    with unit_of_work(db.engine) as s:
        s.add(
            SendAttempt(
                request_id=seeded.request_id,
                step_index=STEP,
                channel=Channel.IVR,
                status=AttemptStatus.SENT,
                tries=1,
                claimed_at=db.clock.now(),
                sent_at=db.clock.now(),
                provider_message_id=sid,
            )
        )
        s.get_one(WaveRequest, seeded.request_id).step_index = STEP


def _purpose_codes(db: Db, purpose_ids: list[int]) -> list[str]:
    with unit_of_work(db.engine) as s:
        return [s.get_one(Purpose, pid).code for pid in purpose_ids]


def test_a_forged_or_missing_signature_is_refused_and_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    forged = _post(client, GATHER, token, _answer("1"), key="not-the-token", question=0)
    missing = client.post(f"{GATHER}?t={token}&q=0", data=_answer("1"))
    # Signed for the Host the request reached, not for our public base URL.
    params = _answer("1")
    wrong_host = RequestValidator(AUTH_TOKEN).compute_signature(
        f"http://evil.test{GATHER}?t={token}&q=0", params
    )
    host_based = client.post(
        f"{GATHER}?t={token}&q=0", data=params, headers={"X-Twilio-Signature": wrong_host}
    )

    assert forged[0] == missing.status_code == host_based.status_code == 403
    assert db.events() == [] and db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_without_an_auth_token_every_webhook_is_refused(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    unsigned = settings.model_copy(update={"twilio_auth_token": None})
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    with TestClient(create_app(unsigned, clock=clock, engine=engine)) as client:
        status, _ = _post(client, VOICE, token, _call())
    assert status == 403


def test_a_person_hears_the_notice_and_the_first_purpose_alone(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    status, twiml = _post(client, VOICE, token, _call())

    assert status == 200
    assert f'action="http://portal.test{GATHER}?t={token}&amp;q=0"' in twiml
    assert 'language="it-IT" voice="Polly.Bianca"' in twiml
    assert "Domanda 1 di 3: Offerte via email." in twiml and "Domanda 2" not in twiml
    assert "portal.test/privacy" in twiml  # where the full notice is
    assert db.events() == []


def test_a_machine_gets_the_voicemail_message_naming_the_home_page(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    status, twiml = _post(client, VOICE, token, _call(AnsweredBy="machine_end_beep"))

    assert status == 200
    assert "<Gather" not in twiml and "portal.test/privacy" in twiml and "<Hangup" in twiml
    assert db.events() == []


def test_one_key_records_one_purpose_and_each_answer_its_own_event(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _placed(db, seeded)
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    first = _post(client, GATHER, token, _answer("1"), question=0)
    again = _post(client, GATHER, token, _answer("1"), question=0)  # Twilio retried it
    second = _post(client, GATHER, token, _answer("2"), question=1)
    third = _post(client, GATHER, token, _answer("1"), question=2)

    assert first == again and first[0] == 200
    assert "Registrato: sì." in first[1] and "Domanda 2 di 3" in first[1]
    assert "Registrato: no." in second[1] and "Domanda 3 di 3" in second[1]
    assert "<Gather" not in third[1] and "revocare il consenso" in third[1]
    events = db.events()
    assert [(e.state, e.method, e.channel) for e in events] == [
        (ConsentState.GIVEN, CollectionMethod.IVR, Channel.IVR),
        (ConsentState.REFUSED, CollectionMethod.IVR, Channel.IVR),
        (ConsentState.GIVEN, CollectionMethod.IVR, Channel.IVR),
    ]
    assert _purpose_codes(db, [e.purpose_id for e in events]) == list(seeded.purposes)
    for index, event in enumerate(events):
        evidence = opened(db.engine, event)
        assert event.provider_message_id == CALL and evidence["call_sid"] == CALL
        assert evidence["question"] == str(index + 1)
        assert evidence["purpose_asked"] == seeded.purposes[index]
        assert len(evidence["to_hash"]) == 64 and CALLEE not in str(evidence)
    request = db.request(seeded.request_id)
    assert (request.status, request.answered_channel) == (RequestStatus.CONFIRMED, Channel.IVR)


def test_a_refusal_then_a_yes_in_the_same_call_confirms_the_request(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    _post(client, GATHER, token, _answer("2"), question=0)
    assert db.request(seeded.request_id).status is RequestStatus.REFUSED
    _post(client, GATHER, token, _answer("1"), question=1)

    assert db.request(seeded.request_id).status is RequestStatus.CONFIRMED


def test_a_replayed_gather_re_cut_at_a_parameter_boundary_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _placed(db, seeded)
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    url = f"http://portal.test{GATHER}?t={token}&q=0"
    genuine = _answer("1")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, genuine)
    # CallStatus folded into CallSid: the names and values concatenate to the same string.
    recut = {k: v for k, v in genuine.items() if k != "CallStatus"}
    recut["CallSid"] = genuine["CallSid"] + "CallStatus" + genuine["CallStatus"]
    assert RequestValidator(AUTH_TOKEN).validate(url, recut, signature)  # still "valid"

    answer = client.post(
        f"{GATHER}?t={token}&q=0", data=recut, headers={"X-Twilio-Signature": signature}
    )

    assert answer.status_code == 200 and "<Hangup" in answer.text
    assert db.events() == []


def test_another_call_another_account_or_another_number_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _placed(db, seeded)
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    other_call = _answer("1", call_sid="CA" + "2" * 32)
    other_account = {**_answer("1"), "AccountSid": "AC" + "9" * 32}
    other_number = {**_answer("1"), "To": "+393339999999"}
    malformed = _answer("1", call_sid="CA-not-a-sid")

    answers = [
        _post(client, GATHER, token, params, question=0)
        for params in (other_call, other_account, other_number, malformed)
    ]

    assert all(status == 200 and "<Hangup" in twiml for status, twiml in answers)
    assert db.events() == []


def test_a_closed_request_or_a_later_objection_records_nothing_and_ends_politely(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    # The person answered in the portal before this call's answer arrived.
    with unit_of_work(db.engine) as s:
        s.get_one(WaveRequest, seeded.request_id).status = RequestStatus.EXPIRED
    closed = _post(client, GATHER, token, _answer("1"), question=0)
    assert "non è più attiva" in closed[1] and "<Hangup" in closed[1]

    other = db.seed("c2", email="c2@example.com", phone="+393330000002")
    token = signer.sign(LinkUse.IVR, other.request_id, STEP)
    with unit_of_work(db.engine) as s:
        record_objection(
            s,
            contact_id=other.contact_id,
            request_id=None,
            method=CollectionMethod.PORTAL,
            channel=None,
            evidence={},
            ctx=LedgerContext("Test S.r.l.", "IT", clock.now()),
        )
    clock.advance(timedelta(seconds=1))
    objected = _post(client, GATHER, token, {**_answer("1"), "To": "+393330000002"}, question=0)
    assert "non è più attiva" in objected[1]
    assert [e.state for e in db.events() if e.contact_id == other.contact_id] == []
    assert [e for e in db.events() if e.state is ConsentState.GIVEN] == []


def test_key_9_stops_calls_once_and_leaves_the_other_channels(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    _post(client, GATHER, token, _answer("1"), question=2)  # yes to calls

    answers = [_post(client, GATHER, token, _answer("9"), question=0) for _ in range(2)]

    assert [status for status, _ in answers] == [200, 200]
    assert "STOPALL" in answers[0][1]  # how to stop e-mails and SMS too
    assert "<Hangup" in answers[1][1]  # a second 9: calls are already stopped
    events = db.events()
    assert [e.state for e in events] == [ConsentState.GIVEN, ConsentState.WITHDRAWN]
    assert _purpose_codes(db, [events[-1].purpose_id]) == ["marketing_phone"]
    rows = {(s.address_hash is None, s.channel, s.reason) for s in db.suppressions()}
    assert rows == {
        (True, Channel.IVR, SuppressionReason.OBJECTION),  # this contact, calls only
        (False, Channel.IVR, SuppressionReason.OBJECTION),  # and the number, for calls
    }


def test_key_9_on_an_open_request_suppresses_calls_and_keeps_it_open(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    _post(client, GATHER, token, _answer("9"), question=0)

    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE
    assert db.events() == []  # nothing was given, so nothing to withdraw
    assert {s.channel for s in db.suppressions()} == {Channel.IVR}


def test_key_3_other_keys_and_silence_record_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    sms = _post(client, GATHER, token, _answer("3"), question=0)
    other = _post(client, GATHER, token, _answer("7"), question=1)
    silence = _post(client, GATHER, token, _call(), question=1)

    assert sms[0] == other[0] == silence[0] == 200
    assert "SMS" in sms[1]
    assert "Scelta non valida" in other[1] and "Domanda 2 di 3" in other[1]  # asked again
    assert db.events() == [] and db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_an_ivr_token_does_not_open_the_landing_page_and_a_bad_one_hangs_up(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    landing = signer.sign(LinkUse.LANDING, seeded.request_id)

    status, twiml = _post(client, GATHER, landing, _answer("1"), question=0)

    assert status == 200 and "<Hangup" in twiml and "<Say" not in twiml
    assert db.events() == []


def test_a_recorded_notice_for_the_locale_is_played(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    recorded = settings.model_copy(update={"ivr_audio_urls": {"it": "https://cdn.test/it.mp3"}})
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)
    with TestClient(create_app(recorded, clock=clock, engine=engine)) as client:
        status, twiml = _post(client, VOICE, token, _call())
    assert status == 200
    assert "<Play>https://cdn.test/it.mp3</Play>" in twiml and "Domanda 1 di 3" in twiml


def test_answers_name_the_notice_read_on_the_phone(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.IVR, seeded.request_id, STEP)

    _post(client, GATHER, token, _answer("1"), question=0)
    _post(client, GATHER, token, _answer("1"), question=1)

    first, second = db.events()
    assert first.notice_version == second.notice_version
    version = first.notice_version or ""
    assert version.startswith("2026-09~call-") and first.evidence["spoken_notice"] == version
    with unit_of_work(db.engine) as s:
        heard = s.get_one(Notice, first.notice_id)
        status = s.scalars(select(ConsentStatus.notice_version)).all()
    assert (heard.version, heard.locale, heard.digest) == (version, "it", first.notice_digest)
    assert heard.digest == hashlib.sha256(heard.body_html.encode()).hexdigest()
    # What was said before the first question: who, why, the rights, where the notice is.
    assert "Example Contact Centre S.r.l." in heard.body_html and "cancellarli" in heard.body_html
    assert "Domanda 3 di 3" in heard.body_html
    assert set(status) == {"2026-09"}  # eligibility counts it under the web notice
    # The same words later give the same spoken notice; the home page never offers it.
    assert 'href="/notice/2026-09?lang=en"' in client.get("/?lang=en").text
    assert client.get(f"/notice/{version}?lang=it").status_code == 200
