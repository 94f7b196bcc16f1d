from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from channels.message_render import render_sms
from channels.twilio_calls import TwilioVoice
from channels.twilio_sms import TwilioSms
from reconsent.dev.emulators.server import running_server
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.errors import ChannelConfigError, SmsTooLongError
from reconsent.kernel.ports import OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel

MakeMessage = Callable[..., OutboundMessage]
SID = "AC" + "a1" * 16
TOKEN = "test-twilio-token"
VOICE_URL = "https://portal.test/webhooks/twilio/voice?t=tok-1"
CALLBACK = "https://portal.test/webhooks/twilio/status?t=tok-1"


def _sms(url: str, **options: Any) -> TwilioSms:
    return TwilioSms(SID, TOKEN, "ReConsent", url, **options)


def _texts(make_message: MakeMessage, *numbers: str) -> list[OutboundMessage]:
    return [
        make_message(i, channel=Channel.SMS, to=number, status_callback_url=CALLBACK)
        for i, number in enumerate(numbers, start=1)
    ]


def test_sms_is_created_and_returns_the_message_sid(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    (msg,) = _texts(make_message, "+393331234567")
    (result,) = _sms(twilio_url).send([msg])
    (created,) = twilio.created("Messages")
    assert result.outcome is SendOutcome.SENT and result.provider == "twilio"
    assert result.provider_message_id == created.sid
    assert created.sid and created.sid.startswith("SM") and len(created.sid) == 34
    assert created.params == {
        "To": "+393331234567",
        "From": "ReConsent",
        "Body": render_sms(msg),
        "StatusCallback": CALLBACK,
    }


def test_per_recipient_outcomes_in_one_batch(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    twilio.fail_number("+393339999999", code=30003)
    twilio.fail_number("+393338888888", code=21610)
    messages = _texts(
        make_message, "+393331234567", "+3933", "+393339999999", "+393338888888", "+447911123456"
    )
    results = _sms(twilio_url).send(messages)
    assert [(r.outcome, r.error_code) for r in results] == [
        (SendOutcome.SENT, None),
        (SendOutcome.PERMANENT, "21211"),  # invalid To
        (SendOutcome.TRANSIENT, "30003"),
        (SendOutcome.PERMANENT, "21610"),
        (SendOutcome.SENT, None),
    ]
    assert results[1].error_detail == "HTTP 400"  # Twilio's text quotes the number: not kept
    assert len(twilio.created("Messages")) == 2


def test_server_error_is_transient_and_the_batch_goes_on(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    twilio.fail_next(500)
    results = _sms(twilio_url).send(_texts(make_message, "+393331234567", "+393331234568"))
    assert [(r.outcome, r.error_code) for r in results] == [
        (SendOutcome.TRANSIENT, "20500"),
        (SendOutcome.SENT, None),
    ]


def test_rate_limit_stops_the_batch_with_retry_after(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    twilio.fail_next(429, retry_after=7)
    messages = _texts(make_message, "+393331234567", "+393331234568", "+393331234569")
    results = _sms(twilio_url).send(messages)
    assert [(r.outcome, r.error_code, r.retry_after) for r in results] == [
        (SendOutcome.TRANSIENT, "429", 7.0),
        (SendOutcome.TRANSIENT, "not_attempted", 7.0),
        (SendOutcome.TRANSIENT, "not_attempted", 7.0),
    ]
    assert len(twilio.requests) == 1


def test_wrong_credentials_are_a_config_error(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    adapter = TwilioSms(SID, "wrong-token", "ReConsent", twilio_url)
    with pytest.raises(ChannelConfigError) as info:
        adapter.send(_texts(make_message, "+393331234567"))
    assert (info.value.status, info.value.code) == (401, 20003)
    assert "wrong-token" not in str(info.value)


def test_an_sms_over_budget_fails_before_any_call(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    with pytest.raises(SmsTooLongError):
        _sms(twilio_url, sms_max_segments=1).send(
            [
                *_texts(make_message, "+393331234567", "+393331234568"),
                make_message(3, channel=Channel.SMS, link="http://p.test/" + "x" * 200),
            ]
        )
    assert twilio.requests == []


def test_timeout_stops_the_batch(make_message: MakeMessage) -> None:
    emulator = TwilioEmulator(account_sid=SID, auth_token=TOKEN)  # its own: a late answer
    emulator.delay_next(0.4)  # must not land in another test's records
    with running_server(emulator.app(), shutdown_timeout=1) as url:
        results = _sms(url, timeout=0.1).send(
            _texts(make_message, "+393331234567", "+393331234568")
        )
    assert [(r.outcome, r.error_code) for r in results] == [
        (SendOutcome.TRANSIENT, "timeout"),
        (SendOutcome.TRANSIENT, "not_attempted"),
    ]


def test_call_uses_answering_machine_detection_and_the_voice_url(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    msg = make_message(
        7,
        channel=Channel.IVR,
        to="+390612345678",
        voice_url=VOICE_URL,
        status_callback_url=CALLBACK,
    )
    (result,) = TwilioVoice(SID, TOKEN, "+390212345678", twilio_url).send([msg])
    (created,) = twilio.created("Calls")
    assert result.outcome is SendOutcome.SENT and result.provider_message_id == created.sid
    assert created.sid and created.sid.startswith("CA") and len(created.sid) == 34
    params = created.params
    assert params["MachineDetection"] == "DetectMessageEnd"
    assert (params["Url"], params["Method"]) == (VOICE_URL, "POST")
    assert params["StatusCallback"] == CALLBACK
    assert params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert (params["To"], params["From"]) == ("+390612345678", "+390212345678")


def test_call_from_an_invalid_number_is_a_config_error(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    msg = make_message(channel=Channel.IVR, to="+390612345678", voice_url=VOICE_URL)
    with pytest.raises(ChannelConfigError) as info:
        TwilioVoice(SID, TOKEN, "ReConsent", twilio_url).send([msg])
    assert info.value.code == 21212


def test_call_without_voice_url_is_refused_before_any_call(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    msg = make_message(channel=Channel.IVR, to="+390612345678")
    with pytest.raises(ValueError, match="voice_url"):
        TwilioVoice(SID, TOKEN, "+390212345678", twilio_url).send([msg])
    assert twilio.requests == []
