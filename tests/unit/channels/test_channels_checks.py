"""``channels check``: one line per configuration problem, nothing sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconsent.channel_checks import check_settings
from reconsent.dev.emulators.sendgrid_events import EventWebhookSigner
from reconsent.settings import ChannelMode, Settings

SID = "AC" + "1" * 32


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "var", **values)


def _production(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "channel_mode": ChannelMode.PROVIDERS,
        "portal_base_url": "https://consent.example.it",
        "sendgrid_api_key": "SG.key",
        "sendgrid_event_public_key": EventWebhookSigner().public_key,
        "email_from": "privacy@example.it",
        "twilio_account_sid": SID,
        "twilio_auth_token": "token",
        "sms_from": "ExampleCo",
        "voice_from": "+390212345678",
        "ivr_audio_urls": {"it": "https://cdn.example.it/it.mp3"},
    }
    values.update(overrides)
    return values


def test_a_complete_production_configuration_has_no_problem(tmp_path: Path) -> None:
    assert check_settings(_settings(tmp_path, **_production())) == []
    assert check_settings(_settings(tmp_path, **_production(sms_from="+393331234567"))) == []


def test_the_outbox_on_localhost_needs_nothing(tmp_path: Path) -> None:
    assert check_settings(_settings(tmp_path)) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sms_from": None}, "sms: RECONSENT_SMS_FROM is missing for twilio"),
        ({"voice_from": None}, "ivr: RECONSENT_VOICE_FROM is missing for twilio"),
        ({"sendgrid_api_key": None}, "email: RECONSENT_SENDGRID_API_KEY is missing for sendgrid"),
        ({"sendgrid_event_public_key": None}, "RECONSENT_SENDGRID_EVENT_PUBLIC_KEY is unset"),
        ({"sendgrid_event_public_key": "not-a-key"}, "is not a base64 public key"),
        ({"portal_base_url": "http://consent.example.it"}, "must be https://"),
        ({"portal_base_url": "consent.example.it"}, "is not an absolute http(s) URL"),
        ({"portal_base_url": "https://consent.example.it/?a=1"}, "query or a fragment"),
        ({"sendgrid_api_host": "api.sendgrid.com"}, "RECONSENT_SENDGRID_API_HOST="),
        ({"twilio_api_base_url": "ftp://twilio"}, "RECONSENT_TWILIO_API_BASE_URL="),
        ({"twilio_account_sid": "AC123"}, "AC followed by 32 hex digits"),
        ({"sms_from": "Example Company Ltd"}, "neither an E.164 number nor an alphanumeric"),
        ({"sms_from": "12345"}, "neither an E.164 number nor an alphanumeric"),
        ({"voice_from": "ExampleCo"}, "RECONSENT_VOICE_FROM='ExampleCo' is not an E.164"),
        ({"email_from": "privacy"}, "RECONSENT_EMAIL_FROM='privacy' is not an email address"),
        ({"ivr_audio_urls": {"en": "http://cdn/en.mp3"}}, "the 'en' recording must be https://"),
    ],
)
def test_each_problem_is_one_line(tmp_path: Path, overrides: dict[str, Any], expected: str) -> None:
    problems = check_settings(_settings(tmp_path, **_production(**overrides)))
    assert len(problems) == 1 and expected in problems[0], problems
    assert "\n" not in problems[0]


def test_secrets_never_appear_in_problems(tmp_path: Path) -> None:
    values = _production(
        sendgrid_api_key="SG.secret", twilio_auth_token="tw-secret", portal_base_url="http://x.it"
    )
    problems = check_settings(_settings(tmp_path, **values))
    assert problems and not any("secret" in p for p in problems)


def test_http_is_fine_on_localhost_with_providers(tmp_path: Path) -> None:
    local = _production(portal_base_url="http://127.0.0.1:8000")
    assert check_settings(_settings(tmp_path, **local)) == []
