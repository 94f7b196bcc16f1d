"""The one place that builds channel adapters from settings.

``settings.channel_mode``:

* ``auto``: SendGrid for email when its API key is set; Twilio for SMS / IVR
  when the account sid, auth token and that channel's sender number are set;
  otherwise the file outbox for that channel;
* ``outbox``: the file outbox for every channel;
* ``providers``: the providers for every channel; a missing setting is a
  :class:`reconsent.errors.ConfigError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import ChannelAdapter
from channels.outbox import FileOutbox
from channels.sendgrid_email import SendGridEmail
from channels.twilio_sms import TwilioSms
from channels.twilio_voice import TwilioVoice
from reconsent.errors import ConfigError
from reconsent.settings import ChannelMode, Settings
from reconsent.vocab import Channel

__all__ = ["build_adapter", "build_adapters", "describe_adapters", "provider_for"]


@dataclass(frozen=True)
class _Choice:
    provider: str  # "sendgrid", "twilio" or "outbox"
    missing: tuple[str, ...]  # environment variables a provider still needs


def _env(name: str) -> str:
    return f"RECONSENT_{name.upper()}"


def _missing(settings: Settings, channel: Channel) -> tuple[str, ...]:
    if channel is Channel.EMAIL:
        return () if settings.sendgrid_configured() else (_env("sendgrid_api_key"),)
    needed = {
        "twilio_account_sid": settings.twilio_account_sid,
        "twilio_auth_token": settings.twilio_auth_token,
        "sms_from" if channel is Channel.SMS else "voice_from": (
            settings.sms_from if channel is Channel.SMS else settings.voice_from
        ),
    }
    return tuple(_env(name) for name, value in needed.items() if not value)


def _choose(settings: Settings, channel: Channel) -> _Choice:
    provider = "sendgrid" if channel is Channel.EMAIL else "twilio"
    if settings.channel_mode is ChannelMode.OUTBOX:
        return _Choice("outbox", ())
    missing = _missing(settings, channel)
    if settings.channel_mode is ChannelMode.PROVIDERS or not missing:
        return _Choice(provider, missing)
    return _Choice("outbox", ())


def provider_for(settings: Settings, channel: Channel) -> tuple[str, tuple[str, ...]]:
    """Who serves ``channel`` ("sendgrid", "twilio" or "outbox") and the settings it still lacks."""
    choice = _choose(settings, channel)
    return choice.provider, choice.missing


def build_adapter(settings: Settings, channel: Channel) -> ChannelAdapter:
    choice = _choose(settings, channel)
    if choice.missing:
        raise ConfigError(
            f"channel {channel} needs {', '.join(choice.missing)} "
            f"(RECONSENT_CHANNEL_MODE={settings.channel_mode})"
        )
    if choice.provider == "outbox":
        return FileOutbox(
            channel,
            settings.outbox_path,
            from_email=settings.email_from,
            from_name=settings.email_from_name,
            sms_from=settings.sms_from,
            ivr_audio_urls=settings.ivr_audio_urls,
            sms_max_segments=settings.sms_max_segments,
            max_batch=settings.dispatch_batch_size,
        )
    if channel is Channel.EMAIL:
        assert settings.sendgrid_api_key is not None  # _missing checked it
        return SendGridEmail(
            settings.sendgrid_api_key.get_secret_value(),
            settings.sendgrid_api_host,
            settings.email_from,
            settings.email_from_name,
            timeout=settings.provider_timeout_seconds,
            max_inline_retries=settings.sendgrid_max_inline_retries,
            max_inline_wait=settings.sendgrid_max_inline_wait,
        )
    assert settings.twilio_account_sid and settings.twilio_auth_token  # _missing checked them
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value()
    if channel is Channel.SMS:
        assert settings.sms_from
        return TwilioSms(
            sid,
            token,
            settings.sms_from,
            settings.twilio_api_base_url,
            timeout=settings.provider_timeout_seconds,
            sms_max_segments=settings.sms_max_segments,
        )
    assert settings.voice_from
    return TwilioVoice(
        sid,
        token,
        settings.voice_from,
        settings.twilio_api_base_url,
        timeout=settings.provider_timeout_seconds,
    )


def build_adapters(settings: Settings) -> dict[Channel, ChannelAdapter]:
    """One adapter per channel (raises ``ConfigError`` in ``providers`` mode when incomplete)."""
    return {channel: build_adapter(settings, channel) for channel in Channel}


def describe_adapters(settings: Settings) -> dict[str, str]:
    """Channel -> where its messages go, for ``channels check`` (no secrets)."""
    out: dict[str, str] = {}
    for channel in Channel:
        choice = _choose(settings, channel)
        if choice.missing:
            out[channel.value] = f"{choice.provider}: NOT CONFIGURED, missing " + ", ".join(
                choice.missing
            )
        elif choice.provider == "outbox":
            out[channel.value] = f"outbox: {settings.outbox_path / channel.value}"
        elif channel is Channel.EMAIL:
            out[channel.value] = (
                f"sendgrid: {settings.sendgrid_api_host} from {settings.email_from}"
            )
        else:
            sender = settings.sms_from if channel is Channel.SMS else settings.voice_from
            out[channel.value] = f"twilio: {settings.twilio_api_base_url} from {sender}"
    return out
