from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from channels.outbox import FileOutbox
from channels.sendgrid_email import SendGridEmail
from channels.twilio_calls import TwilioVoice
from channels.twilio_client import RebasingHttpClient
from channels.twilio_sms import TwilioSms
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.ports import ChannelAdapter
from reconsent.kernel.vocab import Channel
from reconsent.settings import ChannelMode, Settings
from reconsent.wiring import build_adapters, describe_adapters

SID = "AC" + "1" * 32
SECRETS = ("SG.very-secret", "twilio-very-secret")


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "var", **values)


def _all_providers() -> dict[str, Any]:
    return {
        "sendgrid_api_key": SECRETS[0],
        "twilio_account_sid": SID,
        "twilio_auth_token": SECRETS[1],
        "sms_from": "ReConsent",
        "voice_from": "+390212345678",
    }


def test_auto_without_credentials_uses_the_outbox_everywhere(tmp_path: Path) -> None:
    adapters = build_adapters(_settings(tmp_path))
    assert set(adapters) == set(Channel)
    for channel, adapter in adapters.items():
        assert isinstance(adapter, FileOutbox) and isinstance(adapter, ChannelAdapter)
        assert adapter.channel is channel and adapter.root == tmp_path / "var" / "outbox"
    assert not (tmp_path / "var").exists()  # building adapters writes nothing


def test_auto_picks_providers_where_complete(tmp_path: Path) -> None:
    values = _all_providers()
    del values["voice_from"]
    adapters = build_adapters(_settings(tmp_path, **values))
    assert isinstance(adapters[Channel.EMAIL], SendGridEmail)
    assert isinstance(adapters[Channel.SMS], TwilioSms)
    assert isinstance(adapters[Channel.IVR], FileOutbox)  # no voice_from: the outbox
    for adapter in adapters.values():
        assert isinstance(adapter, ChannelAdapter)


def test_providers_mode_builds_all_three(tmp_path: Path) -> None:
    settings = _settings(tmp_path, channel_mode=ChannelMode.PROVIDERS, **_all_providers())
    adapters = build_adapters(settings)
    assert isinstance(adapters[Channel.IVR], TwilioVoice)
    assert [a.provider for a in adapters.values()] == ["sendgrid", "twilio", "twilio"]


def test_providers_mode_names_what_is_missing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, channel_mode=ChannelMode.PROVIDERS, twilio_auth_token="x")
    with pytest.raises(ConfigError, match="RECONSENT_SENDGRID_API_KEY"):
        build_adapters(settings)
    settings = _settings(
        tmp_path, channel_mode=ChannelMode.PROVIDERS, sendgrid_api_key="k", twilio_auth_token="x"
    )
    with pytest.raises(ConfigError, match="RECONSENT_TWILIO_ACCOUNT_SID, RECONSENT_SMS_FROM"):
        build_adapters(settings)


def test_outbox_mode_ignores_credentials(tmp_path: Path) -> None:
    settings = _settings(tmp_path, channel_mode=ChannelMode.OUTBOX, **_all_providers())
    assert all(isinstance(a, FileOutbox) for a in build_adapters(settings).values())


def test_describe_names_providers_without_secrets(tmp_path: Path) -> None:
    values = _all_providers()
    del values["voice_from"]
    described = describe_adapters(_settings(tmp_path, **values))
    assert described["email"].startswith("sendgrid: https://api.sendgrid.com")
    assert described["sms"] == "twilio: https://api.twilio.com from ReConsent"
    assert described["ivr"].startswith("outbox: ") and described["ivr"].endswith("ivr")
    strict = _settings(tmp_path, channel_mode=ChannelMode.PROVIDERS, **values)
    assert describe_adapters(strict)["ivr"] == (
        "twilio: NOT CONFIGURED, missing RECONSENT_VOICE_FROM"
    )
    text = repr(described) + repr(describe_adapters(strict))
    assert not any(secret in text for secret in SECRETS)


def test_settings_additions_have_safe_defaults(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.sms_max_segments == 3 and settings.ivr_audio_urls == {}
    assert settings.sendgrid_event_public_key is None and settings.provider_timeout_seconds > 0


@pytest.mark.parametrize(
    ("from_name", "sender"),
    [
        (None, "Rossi & Figli S.p.A."),  # unset: the controller writes, by name
        ("   ", "Rossi & Figli S.p.A."),  # blank counts as unset
        ("Ufficio privacy Rossi", "Ufficio privacy Rossi"),
    ],
)
def test_the_sender_is_named_after_the_controller_unless_set(
    tmp_path: Path, from_name: str | None, sender: str
) -> None:
    values = {"controller_name": "Rossi & Figli S.p.A.", "email_from_name": from_name}
    settings = _settings(tmp_path, **values, email_from="privacy@rossi.example")
    assert settings.sender_name == sender
    outbox = build_adapters(settings)[Channel.EMAIL]
    assert isinstance(outbox, FileOutbox)
    assert parseaddr(outbox._from_header) == (sender, "privacy@rossi.example")
    sendgrid = build_adapters(_settings(tmp_path, **values, **_all_providers()))[Channel.EMAIL]
    assert isinstance(sendgrid, SendGridEmail) and sendgrid.from_name == sender


@pytest.mark.parametrize(
    ("url", "rebased"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:9/tw/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Calls.json?x=1",
            "http://127.0.0.1:9/tw/2010-04-01/Accounts/AC1/Calls.json?x=1",
        ),
        ("https://example.com/other", "https://example.com/other"),
    ],
)
def test_twilio_requests_are_rebased(url: str, rebased: str) -> None:
    assert RebasingHttpClient("http://127.0.0.1:9/tw/").rebase(url) == rebased


def test_twilio_base_url_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        RebasingHttpClient("127.0.0.1:9")
