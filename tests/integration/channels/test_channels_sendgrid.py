from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from channels.message_render import render_email
from channels.sendgrid_email import SendGridEmail
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.errors import ChannelConfigError
from reconsent.kernel.ports import MessageContext, OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel

MakeMessage = Callable[..., OutboundMessage]
KEY = "SG.test-key"


def _adapter(url: str, sleeps: list[float], **options: Any) -> SendGridEmail:
    return SendGridEmail(
        KEY, url, "privacy@example.com", "Privacy team", sleep=sleeps.append, **options
    )


def _emails(make_message: MakeMessage, count: int, start: int = 1) -> list[OutboundMessage]:
    return [
        make_message(i, to=f"person{i}@example.com", to_name=f"Person {i}")
        for i in range(start, start + count)
    ]


def test_2500_messages_go_out_in_three_requests(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    messages = _emails(make_message, 2500)
    results = _adapter(sendgrid_url, sleeps).send(messages)

    assert [r.attempt_id for r in results] == [m.attempt_id for m in messages]
    assert {r.outcome for r in results} == {SendOutcome.SENT}
    assert len({r.provider_message_id for r in results}) == 2500
    requests = sendgrid.requests
    assert [len(r.body["personalizations"]) for r in requests] == [1000, 1000, 500]
    assert all(r.accepted for r in requests) and sleeps == []
    for request, chunk in zip(
        requests, (results[:1000], results[1000:2000], results[2000:]), strict=True
    ):
        assert {(r.provider_message_id or "").split(".")[0] for r in chunk} == {request.message_id}

    personalizations = [p for r in requests for p in r.body["personalizations"]]
    assert [p["custom_args"] for p in personalizations] == [
        {"request_id": str(m.request_id), "attempt_id": str(m.attempt_id)} for m in messages
    ]  # order kept; ids only
    links = [p["substitutions"]["-link-"] for p in personalizations]
    assert links == [m.link for m in messages] and len(set(links)) == 2500
    assert personalizations[0]["headers"] == {
        "List-Unsubscribe": f"<{messages[0].optout_link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    body = requests[0].body
    assert body["tracking_settings"]["click_tracking"]["enable"] is False
    assert "Person 1" not in str(body["content"]) and "custom_args" not in body


def test_what_recipients_get_equals_the_full_render(
    sendgrid: SendGridEmulator,
    sendgrid_url: str,
    make_message: MakeMessage,
    make_ctx: Callable[..., MessageContext],
    sleeps: list[float],
) -> None:
    english = make_ctx("en")
    messages = [
        make_message(1, to_name="<b>Ann</b>"),
        make_message(2, to_name=None, to="b@example.com"),
        make_message(3, context=english, to="c@example.com", link="http://p.test/c?a=1&b=2"),
    ]
    results = _adapter(sendgrid_url, sleeps).send(messages)
    assert {r.outcome for r in results} == {SendOutcome.SENT}
    assert len(sendgrid.requests) == 2  # one request per context
    deliveries = {d.custom_args["attempt_id"]: d for d in sendgrid.deliveries()}
    for msg in messages:
        expected = render_email(msg)
        got = deliveries[str(msg.attempt_id)]
        assert got.subject == expected.subject
        assert got.contents == {"text/plain": expected.text, "text/html": expected.html}
        assert got.to == [{"email": msg.to, **({"name": msg.to_name} if msg.to_name else {})}]


def test_long_retry_after_comes_back_transient_without_waiting(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    sendgrid.fail_next(429, retry_after=30)
    results = _adapter(sendgrid_url, sleeps).send(_emails(make_message, 1500))
    assert {r.outcome for r in results} == {SendOutcome.TRANSIENT}
    assert {r.retry_after for r in results} == {30.0}
    assert [r.error_code for r in results[:1000]] == ["429"] * 1000
    assert {r.error_code for r in results[1000:]} == {"not_attempted"}
    assert sleeps == [] and len(sendgrid.requests) == 1 and sendgrid.accepted() == []


def test_short_retry_after_is_honoured_inline_and_nothing_is_sent_twice(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    sendgrid.fail_next(429, retry_after=2)
    messages = _emails(make_message, 1200)
    results = _adapter(sendgrid_url, sleeps).send(messages)
    assert {r.outcome for r in results} == {SendOutcome.SENT}
    assert sleeps == [2.0]
    assert [r.status for r in sendgrid.requests] == [429, 202, 202]
    accepted = [
        p["custom_args"]["attempt_id"]
        for r in sendgrid.accepted()
        for p in r.body["personalizations"]
    ]
    assert sorted(accepted, key=int) == [str(m.attempt_id) for m in messages]


def test_server_errors_are_retried_a_bounded_number_of_times(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    sendgrid.fail_next(500, times=3)
    results = _adapter(sendgrid_url, sleeps, max_inline_retries=2, backoff=0.5).send(
        _emails(make_message, 3)
    )
    assert [(r.outcome, r.error_code, r.retry_after) for r in results] == [
        (SendOutcome.TRANSIENT, "500", None)
    ] * 3
    assert sleeps == [0.5, 1.0] and len(sendgrid.requests) == 3


def test_zero_inline_retries_returns_at_once(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    sendgrid.fail_next(503)
    results = _adapter(sendgrid_url, sleeps, max_inline_retries=0).send(_emails(make_message, 2))
    assert {r.error_code for r in results} == {"503"} and sleeps == []


def test_a_bad_key_is_a_config_error(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    adapter = SendGridEmail("SG.wrong", sendgrid_url, "privacy@example.com", sleep=sleeps.append)
    with pytest.raises(ChannelConfigError) as info:
        adapter.send(_emails(make_message, 2))
    assert info.value.status == 401 and "SG.wrong" not in str(info.value)
    assert sendgrid.requests[0].headers["authorization"] == "********"


def test_one_invalid_address_fails_alone(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    messages = _emails(make_message, 5)
    messages[2] = make_message(3, to="not-an-address")
    results = {r.attempt_id: r for r in _adapter(sendgrid_url, sleeps).send(messages)}
    assert results[3].outcome is SendOutcome.PERMANENT and results[3].error_code == "400"
    assert "personalizations.2.to.0.email" in (results[3].error_detail or "")
    assert "not-an-address" not in (results[3].error_detail or "")
    assert {results[i].outcome for i in (1, 2, 4, 5)} == {SendOutcome.SENT}
    (accepted,) = sendgrid.accepted()
    assert [p["custom_args"]["attempt_id"] for p in accepted.body["personalizations"]] == [
        "1",
        "2",
        "4",
        "5",
    ]


def test_a_bad_payload_fails_its_batch(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage, sleeps: list[float]
) -> None:
    adapter = SendGridEmail("SG.test-key", sendgrid_url, "not-a-sender", sleep=sleeps.append)
    results = adapter.send(_emails(make_message, 3))
    # Our sender was refused, not the recipients: failed, never a suppression of theirs.
    assert {(r.outcome, r.error_code) for r in results} == {(SendOutcome.UNSENDABLE, "400")}
    assert "from.email" in (results[0].error_detail or "")


def test_timeout_is_transient_and_not_retried_inline(
    make_message: MakeMessage, sleeps: list[float]
) -> None:
    emulator = SendGridEmulator(api_key=KEY)
    emulator.delay_next(0.5)
    with running_server(emulator.app(), shutdown_timeout=1) as url:
        results = _adapter(url, sleeps, timeout=0.1).send(_emails(make_message, 2))
    assert {(r.outcome, r.error_code) for r in results} == {(SendOutcome.TRANSIENT, "timeout")}
    assert sleeps == []


def test_unreachable_server_is_transient(make_message: MakeMessage, sleeps: list[float]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = _adapter(f"http://127.0.0.1:{port}", sleeps).send(_emails(make_message, 2))
    assert {(r.outcome, r.error_code) for r in results} == {(SendOutcome.TRANSIENT, "connection")}


def test_rejects_messages_of_another_channel(
    make_message: MakeMessage, sleeps: list[float]
) -> None:
    with pytest.raises(ValueError, match="not an email"):
        _adapter("http://127.0.0.1:9", sleeps).send([make_message(channel=Channel.SMS)])
