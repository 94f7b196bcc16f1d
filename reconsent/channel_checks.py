"""``reconsent channels check``: is the channel configuration usable? Nothing is sent.

:func:`check_settings` returns one line per problem (empty: all good).  What
is checked depends on who serves each channel (:func:`reconsent.wiring.provider_for`):

* always: the portal base URL is an absolute http(s) URL without query or
  fragment (links and webhook URLs are built on it);
* a provider with settings missing (``RECONSENT_CHANNEL_MODE=providers``);
* any provider in use: the portal base URL is https, except on localhost
  (providers post webhooks there and sign the exact URL; people open the links);
* SendGrid: its API host is a base URL, the sender address is valid, and the
  Event Webhook public key is set and loads as an ECDSA P-256 key (without it
  every event batch is refused: bounces and spam reports would be missed);
* Twilio: its API base URL, an account SID shaped ``AC`` + 32 hex digits, an
  SMS sender that is an E.164 number or an alphanumeric id (1-11 characters,
  at least one letter), a caller id that is an E.164 number;
* recorded IVR scripts (``RECONSENT_IVR_AUDIO_URLS``): absolute https URLs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook

from reconsent.kernel.errors import AddressError
from reconsent.kernel.rules.addresses import normalise_email, normalise_phone
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings
from reconsent.wiring import provider_for

__all__ = ["check_settings"]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


def _env(name: str) -> str:
    return f"RECONSENT_{name.upper()}"


def _url_problem(name: str, value: str, *, https: bool = False) -> str | None:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{_env(name)}={value!r} is not an absolute http(s) URL"
    if parts.query or parts.fragment:
        return f"{_env(name)}={value!r} must not carry a query or a fragment"
    if https and parts.scheme != "https" and parts.hostname not in _LOCAL_HOSTS:
        return f"{_env(name)}={value!r} must be https:// (only localhost may use http)"
    return None


def _is_e164(value: str) -> bool:
    if not value.startswith("+"):
        return False
    try:
        return normalise_phone(value) == value
    except AddressError:
        return False


def _event_key_problem(settings: Settings) -> str | None:
    key = settings.sendgrid_event_public_key
    name = _env("sendgrid_event_public_key")
    if not key:
        return f"{name} is unset: every SendGrid event batch would be refused (403)"
    try:
        loaded = EventWebhook().convert_public_key_to_ecdsa(key.strip())
    except (ValueError, TypeError):
        return f"{name} is not a base64 public key (paste it from SendGrid's Mail Settings)"
    if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != "secp256r1":
        return f"{name} is not an ECDSA P-256 public key"
    return None


def _sendgrid_problems(settings: Settings) -> list[str]:
    problems = [
        p
        for p in (
            _url_problem("sendgrid_api_host", settings.sendgrid_api_host),
            _event_key_problem(settings),
        )
        if p
    ]
    try:
        normalise_email(settings.email_from)
    except AddressError:
        problems.append(f"{_env('email_from')}={settings.email_from!r} is not an email address")
    return problems


def _twilio_problems(settings: Settings, channels: set[Channel]) -> list[str]:
    problems = [
        p for p in (_url_problem("twilio_api_base_url", settings.twilio_api_base_url),) if p
    ]
    sid = settings.twilio_account_sid
    if sid and not _ACCOUNT_SID.match(sid):
        problems.append(f"{_env('twilio_account_sid')} must be AC followed by 32 hex digits")
    sender = settings.sms_from
    if (
        Channel.SMS in channels
        and sender
        and not (_is_e164(sender) or _ALPHANUMERIC_SENDER.match(sender))
    ):
        problems.append(
            f"{_env('sms_from')}={sender!r} is neither an E.164 number nor an alphanumeric "
            "sender id (1-11 letters, digits or spaces)"
        )
    caller = settings.voice_from
    if Channel.IVR in channels and caller and not _is_e164(caller):
        problems.append(f"{_env('voice_from')}={caller!r} is not an E.164 phone number")
    return problems


def check_settings(settings: Settings) -> list[str]:
    """Every problem of the channel configuration, one line each (empty: usable)."""
    problems: list[str] = []
    portal = _url_problem("portal_base_url", settings.portal_base_url)
    if portal:
        problems.append(portal)
    served: dict[str, set[Channel]] = {}
    for channel in Channel:
        provider, missing = provider_for(settings, channel)
        for name in missing:
            problems.append(f"{channel.value}: {name} is missing for {provider}")
        served.setdefault(provider, set()).add(channel)
    providers = set(served) - {"outbox"}
    if providers and not portal:
        https = _url_problem("portal_base_url", settings.portal_base_url, https=True)
        if https:
            problems.append(f"{https}: providers post their webhooks there")
    if "sendgrid" in providers:
        problems += _sendgrid_problems(settings)
    if "twilio" in providers:
        problems += _twilio_problems(settings, served["twilio"])
    for locale, url in sorted(settings.ivr_audio_urls.items()):
        if urlsplit(url).scheme != "https" or not urlsplit(url).hostname:
            problems.append(f"{_env('ivr_audio_urls')}: the {locale!r} recording must be https://")
    return problems
