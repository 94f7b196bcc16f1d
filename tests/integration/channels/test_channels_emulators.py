from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.dev.emulators.twilio import TwilioEmulator

SG_AUTH = {"Authorization": "Bearer SG.test-key"}
TW_SID = "AC" + "a1" * 16


def _mail(count: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [
            {"to": [{"email": f"p{i}@example.com"}], "custom_args": {"attempt_id": str(i)}}
            for i in range(count)
        ],
        "from": {"email": "privacy@example.com"},
        "subject": "Hello",
        "content": [
            {"type": "text/plain", "value": "hi -name-"},
            {"type": "text/html", "value": "<p>hi -name-</p>"},
        ],
    }
    body.update(overrides)
    return body


def _fields(response: httpx.Response) -> list[str | None]:
    return [error["field"] for error in response.json()["errors"]]


def test_running_server_serves_then_releases_the_port() -> None:
    async def hello(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    with running_server(Starlette(routes=[Route("/", hello)])) as url:
        assert httpx.get(url).text == "ok"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_running_server_reports_a_failed_start_up() -> None:
    @asynccontextmanager
    async def broken(_: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    with (
        pytest.raises(RuntimeError, match="stopped during start-up"),
        running_server(Starlette(lifespan=broken)),
    ):
        pass  # pragma: no cover


def test_sendgrid_accepts_a_valid_mail(sendgrid: SendGridEmulator, sendgrid_url: str) -> None:
    body = _mail(2)
    body["personalizations"][1]["substitutions"] = {"-name-": "<Bo>"}
    response = httpx.post(f"{sendgrid_url}/v3/mail/send", json=body, headers=SG_AUTH)
    assert response.status_code == 202 and response.headers["X-Message-Id"]
    first, second = sendgrid.deliveries()
    assert first.contents["text/plain"] == "hi -name-"
    assert second.contents == {"text/plain": "hi <Bo>", "text/html": "<p>hi <Bo></p>"}
    assert second.custom_args == {"attempt_id": "1"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (_mail(0), ["personalizations"]),
        (_mail(1001), ["personalizations", "personalizations"]),  # also > 1,000 recipients
        (_mail(1, subject=None), ["subject"]),
        (_mail(1, content=[]), ["content"]),
        (
            _mail(
                1,
                content=[{"type": "text/html", "value": "x"}, {"type": "text/plain", "value": "y"}],
            ),
            ["content"],
        ),
        (_mail(1, **{"from": {"email": "nobody"}}), ["from.email"]),
        (
            _mail(1, personalizations=[{"to": [{"email": "bad"}]}]),
            ["personalizations.0.to.0.email"],
        ),
        (
            _mail(1, personalizations=[{"to": [{"email": "a@b.co"}], "custom_args": {"n": 1}}]),
            ["personalizations.0.custom_args"],
        ),
        (
            _mail(1, personalizations=[{"to": [{"email": f"{i}@b.co"} for i in range(1001)]}]),
            ["personalizations"],
        ),
    ],
)
def test_sendgrid_validates_like_the_real_api(
    sendgrid: SendGridEmulator, sendgrid_url: str, body: dict[str, Any], fields: list[str]
) -> None:
    response = httpx.post(f"{sendgrid_url}/v3/mail/send", json=body, headers=SG_AUTH)
    assert response.status_code == 400 and _fields(response) == fields
    assert response.json()["errors"][0]["help"] is None
    assert sendgrid.accepted() == []


def test_sendgrid_requires_the_bearer_key(sendgrid: SendGridEmulator, sendgrid_url: str) -> None:
    response = httpx.post(
        f"{sendgrid_url}/v3/mail/send", json=_mail(), headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401 and sendgrid.requests[0].status == 401


def test_sendgrid_scripted_faults_come_in_order(
    sendgrid: SendGridEmulator, sendgrid_url: str
) -> None:
    sendgrid.fail_next(429, retry_after=3)
    sendgrid.fail_next(502)
    statuses = [
        httpx.post(f"{sendgrid_url}/v3/mail/send", json=_mail(), headers=SG_AUTH) for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [429, 502, 202]
    assert statuses[0].headers["Retry-After"] == "3"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_twilio_authenticates_and_scopes_the_account(
    twilio: TwilioEmulator, twilio_url: str
) -> None:
    data = {"To": "+393331234567", "From": "ReConsent", "Body": "hi"}
    path = f"{twilio_url}/2010-04-01/Accounts/{{}}/Messages.json"
    wrong = httpx.post(path.format(TW_SID), data=data, headers=_basic(TW_SID, "nope"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, 20003)
    other = "AC" + "b2" * 16
    elsewhere = httpx.post(
        path.format(other), data=data, headers=_basic(TW_SID, "test-twilio-token")
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, 20404)
    ok = httpx.post(path.format(TW_SID), data=data, headers=_basic(TW_SID, "test-twilio-token"))
    resource = ok.json()
    assert ok.status_code == 201 and resource["status"] == "queued"
    assert resource["sid"].startswith("SM") and len(resource["sid"]) == 34
    assert resource["uri"].endswith(f"/Messages/{resource['sid']}.json")
    assert (resource["to"], resource["from"], resource["num_segments"]) == (
        "+393331234567",
        "ReConsent",
        "1",
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"From": "X", "Body": "hi"}, 21604),
        ({"To": "+393331234567", "Body": "hi"}, 21603),
        ({"To": "+393331234567", "From": "X"}, 21602),
        ({"To": "12", "From": "X", "Body": "hi"}, 21211),
    ],
)
def test_twilio_validates_messages(
    twilio: TwilioEmulator, twilio_url: str, data: dict[str, str], code: int
) -> None:
    response = httpx.post(
        f"{twilio_url}/2010-04-01/Accounts/{TW_SID}/Messages.json",
        data=data,
        headers=_basic(TW_SID, "test-twilio-token"),
    )
    body = response.json()
    assert (response.status_code, body["code"], body["status"]) == (400, code, 400)
    assert body["more_info"].endswith(str(code)) and twilio.created("Messages") == []
