"""The one wiring place: settings -> engines, channel adapters, link signers, dispatcher.

Every process builds what it needs here and nowhere else: the CLI, the flows
(:func:`get_runtime`, cached per process and per settings so Prefect tasks in
one worker share an engine, the adapters and the dispatcher's pacing), the
portal (:func:`portal_engine`, :func:`link_signer`, :func:`sms_adapter`) and the
tests.  Nothing is built at import time.

``settings.channel_mode`` decides who serves each channel:

* ``auto``: SendGrid for email when its API key is set; Twilio for SMS / IVR
  when the account sid, auth token and that channel's sender number are set;
  otherwise the file outbox for that channel;
* ``outbox``: the file outbox for every channel;
* ``providers``: the providers for every channel; a missing setting is a
  :class:`reconsent.kernel.errors.ConfigError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import SecretBytes, SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from channels.ivr_twiml import Voice, spoken_portal
from channels.outbox import FileOutbox
from channels.sendgrid_email import SendGridEmail
from channels.twilio_calls import TwilioVoice
from channels.twilio_sms import TwilioSms
from reconsent.db import make_engine, normalise_url
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import Clock
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.links import LinkSigner
from reconsent.kernel.ports import ChannelAdapter
from reconsent.kernel.vocab import Channel
from reconsent.settings import ChannelMode, Settings, load_settings

__all__ = [
    "Runtime",
    "api_engine",
    "build_adapter",
    "build_adapters",
    "channel_providers",
    "command_engine",
    "describe_adapters",
    "get_runtime",
    "link_signer",
    "portal_engine",
    "provider_for",
    "reset_runtimes",
    "settings_fingerprint",
    "sms_adapter",
]


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


def channel_providers(settings: Settings) -> dict[str, str]:
    """Who serves each channel, by channel value ("email": "sendgrid", "sms": "outbox"...)."""
    return {channel.value: _choose(settings, channel).provider for channel in Channel}


def call_voice(settings: Settings) -> Voice:
    """How calls speak: the TTS voice per language, and the portal page they name."""
    return Voice(spoken_portal(settings.portal_base_url), settings.ivr_voices)


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
            from_name=settings.sender_name,
            sms_from=settings.sms_from,
            ivr_audio_urls=settings.ivr_audio_urls,
            voice=call_voice(settings),
            sms_max_segments=settings.sms_max_segments,
            max_batch=settings.dispatch_batch_size,
        )
    if channel is Channel.EMAIL:
        assert settings.sendgrid_api_key is not None  # _missing checked it
        return SendGridEmail(
            settings.sendgrid_api_key.get_secret_value(),
            settings.sendgrid_api_host,
            settings.email_from,
            settings.sender_name,
            timeout=settings.provider_timeout_seconds,
            max_inline_retries=settings.sendgrid_max_inline_retries,
            max_inline_wait=settings.sendgrid_max_inline_wait,
            reports_back=bool(settings.sendgrid_event_public_key),
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


# --- the process runtime ------------------------------------------------------------------


@dataclass
class Runtime:
    """What one process needs to run waves: one engine, one adapter per channel, and
    one dispatcher (its per-channel pacing lives as long as the process)."""

    settings: Settings
    engine: Engine
    adapters: dict[Channel, ChannelAdapter] = field(default_factory=dict)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.engine, self.settings, self.adapters)


_lock = threading.Lock()
_cache: dict[str, Runtime] = {}


def _revealed(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return value.get_secret_value()
    return str(value)


def settings_fingerprint(settings: Settings) -> str:
    """A digest of every setting, secrets included (``model_dump_json`` masks them,
    so two settings differing only in a key would look the same)."""
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    text = json.dumps(values, sort_keys=True, default=_revealed)
    return hashlib.sha256(text.encode()).hexdigest()


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(
        settings=settings,
        engine=make_engine(settings.database_url),
        adapters=build_adapters(settings),
    )


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The process-wide runtime for these settings (default: from the environment)."""
    settings = settings or load_settings()
    key = settings_fingerprint(settings)
    with _lock:
        runtime = _cache.get(key)
        if runtime is None:
            runtime = _cache[key] = build_runtime(settings)
        return runtime


def reset_runtimes() -> None:
    """Dispose cached engines (tests, and the demo between phases)."""
    with _lock:
        for runtime in _cache.values():
            runtime.engine.dispose()
        _cache.clear()


def command_engine(settings: Settings) -> Engine:
    """An engine for one command or one demo phase; the caller disposes it."""
    return make_engine(settings.database_url)


# --- the portal process ---------------------------------------------------------------------


def portal_engine(settings: Settings) -> Engine:
    """The engine of one portal process, its pool sized to ``portal_threads``.

    Handlers run inline on the event loop by default (``portal_threads = 0``;
    see :mod:`consent_portal.app`); with ``N > 0`` threads the pool is as
    large as the threadpool (plus a little), so a busy portal reuses its
    connections instead of opening one per request beyond the pool.
    """
    url = settings.database_url
    if ":memory:" in url:  # one shared in-memory database: SQLAlchemy's own pool
        return make_engine(url)
    threads = max(1, settings.portal_threads)
    # No ping before each checkout (a round trip per request on PostgreSQL): a connection
    # the server dropped fails one request, and SQLAlchemy then replaces the whole pool.
    return make_engine(
        url, pool_size=threads, max_overflow=max(1, threads // 2), pool_pre_ping=False
    )


#: The PostgreSQL session settings of the operator API's connections.
API_PG_OPTIONS = "-c max_parallel_workers_per_gather=0 -c plan_cache_mode=force_generic_plan"


def api_engine(settings: Settings) -> Engine:
    """The engine of one operator API process, its pool sized to ``api_threads``."""
    url = settings.database_url
    if ":memory:" in url:
        return make_engine(url)
    return make_engine(url, **_api_pool(settings))


def api_read_engine(settings: Settings) -> Engine | None:
    """The engine of an operator API process's checks: autocommit (each statement its own
    snapshot, no BEGIN and COMMIT), set once per connection (an autocommit execution
    option on a shared engine switches the level at every checkout and back). None for a
    database in the process's memory: a second engine would be another, empty database."""
    url = settings.database_url
    if ":memory:" in url:
        return None
    return make_engine(url, isolation_level="AUTOCOMMIT", **_api_pool(settings))


def _api_pool(settings: Settings) -> dict[str, Any]:
    threads = max(1, settings.api_threads)
    options: dict[str, Any] = {
        "pool_size": threads,
        "max_overflow": max(1, threads // 2),
        "pool_pre_ping": False,
    }
    if make_url(normalise_url(settings.database_url)).get_backend_name() == "postgresql":
        # Short statements from many connections: no parallel workers (their start-up
        # costs more than a check), and each prepared statement planned once.
        options["connect_args"] = {"options": API_PG_OPTIONS}
    return options


def link_signer(settings: Settings, clock: Clock) -> LinkSigner:
    """The signer of every link: the configured keys (rotation: oldest first), ``clock``'s time."""
    return LinkSigner(settings.link_signing_keys(), clock=clock)


_sms_adapters: dict[str, ChannelAdapter] = {}


def sms_adapter(settings: Settings) -> ChannelAdapter:
    """The SMS adapter of this process (built once per settings): IVR key 3's link SMS.

    Raises :class:`~reconsent.kernel.errors.ConfigError` when SMS is not configured.
    """
    key = settings_fingerprint(settings)
    with _lock:
        adapter = _sms_adapters.get(key)
        if adapter is None:
            adapter = _sms_adapters[key] = build_adapter(settings, Channel.SMS)
        return adapter
