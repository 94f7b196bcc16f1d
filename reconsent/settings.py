"""Typed settings, read from the environment (prefix ``RECONSENT_``) and ``.env``.

One place, built on demand (never at import time). Secrets are ``SecretStr`` (never printed;
``Settings.describe()`` masks them for ``reconsent config``). Part: ``record_settings.py``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.patron_days import PatronCalendar, parse_month_day, parse_municipality
from reconsent.kernel.url_masking import mask_url_passwords
from reconsent.kernel.waveconfig import QuietPreset
from reconsent.key_files import dev_key
from reconsent.portal_code_settings import PortalCodeSettings
from reconsent.record_settings import RecordSettings
from reconsent.settings_retention import RetentionSettings
from reconsent.tick_settings import TickSettings


class ChannelMode(StrEnum):
    AUTO = "auto"  # a provider where its credentials are complete, else the file outbox
    OUTBOX = "outbox"  # always the file outbox
    PROVIDERS = "providers"  # always the providers: missing credentials are an error


class Settings(RecordSettings, RetentionSettings, PortalCodeSettings, TickSettings, BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECONSENT_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        default="sqlite:///reconsent.db",
        description="SQLAlchemy URL; default a SQLite file in the working directory.",
    )
    database_owner_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL: the schema owner's URL, used only by `reconsent db upgrade` "
        "(migrations, then the runtime role of RECONSENT_DATABASE_URL and its grants). Unset: "
        "migrations run with RECONSENT_DATABASE_URL.",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(sys.prefix) / "var" / "reconsent",
        description="Working files: the outbox, development keys. Default: `var/reconsent` "
        "under the installation (the virtualenv's prefix), the same from every working "
        "directory; a relative value is made absolute at start.",
    )
    portal_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Public base URL of the consent portal."
    )
    signing_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Link-signing keys, comma separated, oldest first (the last signs). "
        "Unset: refused, unless RECONSENT_DEV_KEYS (then generated once into "
        "DATA_DIR/signing.key).",
    )
    address_hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC that hashes addresses for suppression. "
        "Unset: refused, unless RECONSENT_DEV_KEYS (then generated once into "
        "DATA_DIR/address-hash.key). Never change it: the database records its fingerprint "
        "and refuses another.",
    )
    dev_keys: bool = Field(
        default=False,
        description="Development only: generate the link-signing and address-hash keys into "
        "DATA_DIR when they are unset (`reconsent demo` sets it for its own folder). Off: a "
        "command that signs links or hashes addresses refuses to start without them.",
    )
    controller_name: str = Field(
        default="Example Contact Centre S.r.l.",
        description="The data controller, named on every message, page and consent record.",
    )
    controller_contact: str = Field(
        default="privacy@example.com", description="How people reach the controller / DPO."
    )
    controller_address: str | None = Field(
        default=None,
        description="The controller's postal address, on consent receipts (Kantara `address`).",
    )
    controller_phone: str | None = Field(
        default=None,
        description="The controller's (or DPO's) phone number, on consent receipts "
        "(Kantara `phone`).",
    )
    jurisdiction: str = Field(
        default="IT", description="ISO country of the controller (consent records, phone parsing)."
    )
    channel_mode: ChannelMode = Field(
        default=ChannelMode.AUTO,
        description="auto: a provider where its credentials are set, else the file outbox; "
        "outbox: always the outbox; providers: always the providers (missing credentials fail).",
    )
    outbox_dir: Path | None = Field(default=None, description="Default DATA_DIR/outbox.")
    sendgrid_api_key: SecretStr | None = Field(
        default=None, description="SendGrid API key (mail send permission); enables e-mail."
    )
    sendgrid_api_host: str = Field(
        default="https://api.sendgrid.com",
        description="SendGrid API base URL (emulators, proxies, the EU region host).",
    )
    email_from: str = Field(default="privacy@example.com", description="Verified sender address.")
    email_from_name: str | None = Field(
        default=None,
        description="Sender display name. Unset: the controller's name (CONTROLLER_NAME), "
        "so the inbox says who writes.",
    )
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account SID (AC...); with the token, enables SMS and IVR."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Also verifies Twilio webhooks (X-Twilio-Signature)."
    )
    twilio_api_base_url: str = Field(
        default="https://api.twilio.com",
        description="Twilio REST base URL (emulators, proxies, regional edges).",
    )
    sms_from: str | None = Field(
        default=None, description="SMS sender: E.164 number or alphanumeric id (no replies)."
    )
    voice_from: str | None = Field(default=None, description="Caller id of IVR calls (E.164).")
    provider_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one SendGrid / Twilio API call."
    )
    sendgrid_max_inline_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a 429/5xx inside one send (each waits Retry-After, at most "
        "SENDGRID_MAX_INLINE_WAIT seconds); beyond that the attempt is retried later.",
    )
    sendgrid_max_inline_wait: float = Field(
        default=5.0, ge=0, description="Longest Retry-After waited inside one send, seconds."
    )
    sendgrid_event_public_key: str | None = Field(
        default=None,
        description="Public key (base64 P-256) that verifies the signed SendGrid Event Webhook.",
    )
    sms_max_segments: int = Field(
        default=3, ge=1, le=10, description="Longest SMS, in segments (GSM-7 153, UCS-2 67)."
    )
    ivr_audio_urls: dict[str, str] = Field(
        default_factory=dict,
        description='Recorded call scripts per locale, JSON: {"it": "https://.../it.mp3"}. '
        "Unset for a locale: the script is read by text-to-speech.",
    )
    ivr_voices: dict[str, str] = Field(
        default_factory=dict,
        description='Text-to-speech voice per language for calls, JSON: {"it": "Polly.Carla"}. '
        "Unset for a language: Polly.Bianca (it-IT), Polly.Amy (en-GB).",
    )
    dispatch_batch_size: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Requests per dispatch task (one Prefect task run; a range of ids).",
    )
    send_rate_per_second: dict[str, float] = Field(
        default_factory=dict,
        description='Per-channel pacing, JSON: {"sms": 1, "ivr": 0.5} (a long code sends about '
        "1 SMS/s), shared by every worker on the database. Unset: as fast as accepted.",
    )
    receipt_signing_key: SecretStr | None = Field(
        default=None,
        description="Base64 Ed25519 key that signs consent receipts (`reconsent receipts "
        "keygen`); unset: receipts are unsigned.",
    )
    checkpoint_signing_key: SecretStr | None = Field(
        default=None,
        description="Base64 Ed25519 key that signs ledger checkpoints (`reconsent ledger "
        "checkpoint-keygen`); keep it apart from the database credentials. Unset: "
        "`ledger checkpoint` refuses (an unsigned checkpoint proves nothing).",
    )
    checkpoint_dir: Path | None = Field(
        default=None,
        description="Where the scheduled sweep writes the day's signed ledger checkpoint, "
        "once per UTC day (WORM storage, a mailbox drop; with CHECKPOINT_SIGNING_KEY). "
        "Unset: the sweep takes none.",
    )
    send_max_tries: int = Field(
        default=3, ge=1, description="Tries of a step on transient errors before escalating."
    )
    rpo_validity_days: int = Field(
        default=15,
        ge=1,
        le=15,
        description="How long an answer of Italy's Registro Pubblico delle Opposizioni is "
        "relied on: with no consultation that recent, no call goes to an Italian number "
        "(D.P.R. 26/2022 allows 15 days at most).",
    )
    claim_lease_seconds: int = Field(
        default=600,
        ge=10,
        description="After this, an unfinished claim is taken over: sent if it never reached "
        "the provider, else presumed sent and reported as unknown.",
    )
    unconfirmed_resend_seconds: int = Field(
        default=3600,
        ge=0,
        description="How long an unknown outcome waits for the provider's report (SendGrid "
        "Event Webhook, Twilio status callback) before it is sent again; 0: never re-sent. "
        "Only for providers that report back.",
    )
    portal_rate_per_ip: int = Field(
        default=300,
        ge=0,
        description="Portal requests per minute from one client address (token bucket, "
        "bursts up to the same number); over it: 429 with Retry-After. 0 disables.",
    )
    portal_forwarded_allow_ips: str = Field(
        default="",
        description="The proxies whose X-Forwarded-For / X-Forwarded-Proto the portal "
        "believes (comma-separated addresses or networks, `*` for any: only behind a proxy "
        "that overwrites the header). Empty: none, the peer address is the client (rate "
        "limits, evidence). `reconsent portal --forwarded-allow-ips` overrides it.",
    )
    portal_rate_per_token: int = Field(
        default=60,
        ge=0,
        description="Portal requests per minute on one signed link (token bucket); 0 disables.",
    )
    portal_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="0: a portal process runs each request's database work and rendering "
        "inline on its event loop (fastest; scale with `reconsent portal --workers`); "
        "N: in a pool of N threads, with as many database connections.",
    )
    api_threads: int = Field(
        default=8,
        ge=0,
        le=256,
        description="0: an operator API process runs each request's database work inline on "
        "its event loop; N: in a pool of N threads, with as many database connections "
        "(a capture waiting on a person's lock does not hold the others up). A check of one "
        "contact always runs inline (one short indexed read).",
    )
    api_key_cache_seconds: int = Field(
        default=5,
        ge=0,
        le=300,
        description="How long an operator API process trusts a key it checked (0: it reads "
        "the key on every request); a revoked key is refused within this time.",
    )
    api_frequency_cap: int = Field(
        default=0,
        ge=0,
        description="The contactability check refuses (`frequency_cap`) a person whom waves "
        "reached this many times in `api_frequency_cap_days` days; 0: no cap.",
    )
    api_frequency_cap_days: int = Field(
        default=90, ge=1, description="The window of `api_frequency_cap`, in days."
    )
    api_calling_hours_ivr: QuietPreset = Field(
        default="it-telemarketing",
        description="The calling hours the contactability check applies to calls (a quiet-"
        "hours preset, in the person's timezone).",
    )
    api_calling_hours_sms: QuietPreset = Field(
        default="daytime",
        description="The hours the contactability check applies to SMS (a quiet-hours preset).",
    )
    evidence_ip_truncate: bool = Field(
        default=False,
        description="Keep only the network of the client address in consent evidence: "
        "/24 for IPv4, /48 for IPv6.",
    )
    patron_days: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Local patron-saint holidays by ISTAT municipality code, JSON: {"015146": '
        '"12-07", "012345": ["05-01", "09-29"]}; each entry replaces the built-in one (an '
        "empty list removes it). No calls there that day under it-telemarketing.",
    )
    crm_webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts the CRM webhook endpoints' signing secrets in the "
        "database (AES-256-GCM). Unset: refused, unless RECONSENT_DEV_KEYS (then generated "
        "once into DATA_DIR/crm-webhook-secret.key). "
        "Changing it makes every endpoint's secret unreadable (rotate them).",
    )
    crm_webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Timeout of one CRM webhook delivery (connect and answer); a timeout is "
        "retried.",
    )
    crm_webhook_give_up_seconds: int = Field(
        default=86400,
        ge=60,
        description="A CRM webhook delivery still failing this long after its first try is "
        "given up (state failed; `reconsent webhooks replay` sends it again).",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """One place whatever the working directory: made absolute at start."""
        return value.expanduser().resolve()

    @field_validator("signing_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("patron_days", mode="before")
    @classmethod
    def _days_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {code: [days] if isinstance(days, str) else days for code, days in value.items()}
        return value

    @field_validator("patron_days")
    @classmethod
    def _valid_days(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Codes as six digits, days as MM-DD (an invalid one fails at start-up)."""
        valid: dict[str, list[str]] = {}
        for code, days in value.items():
            municipality = parse_municipality(code)
            if municipality is None:
                raise ValueError("an empty municipality code")
            pairs = sorted({parse_month_day(day) for day in days})
            valid[municipality] = [f"{month:02d}-{day:02d}" for month, day in pairs]
        return valid

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    def link_signing_keys(self) -> list[str]:
        if self.signing_keys:
            return [key.get_secret_value() for key in self.signing_keys]
        return [self._dev_key("RECONSENT_SIGNING_KEYS", "signing.key")]

    def address_key(self) -> bytes:
        if self.address_hash_key is not None:
            return self.address_hash_key.get_secret_value().encode()
        return self._dev_key("RECONSENT_ADDRESS_HASH_KEY", "address-hash.key").encode()

    def _dev_key(self, variable: str, file_name: str) -> str:
        if not self.dev_keys:
            raise ConfigError(
                f"{variable} is not set: production needs it (see the README, Running for "
                "real); for development set RECONSENT_DEV_KEYS=true to generate one into "
                f"{self.data_dir}"
            )
        return dev_key(self.data_dir / file_name)

    def crm_webhook_key(self) -> str:
        if self.crm_webhook_secret_key is not None:
            return self.crm_webhook_secret_key.get_secret_value()
        return self._dev_key("RECONSENT_CRM_WEBHOOK_SECRET_KEY", "crm-webhook-secret.key")

    def patron_calendar(self) -> PatronCalendar:
        """The local holidays per municipality: built-in, with ``patron_days`` applied."""
        return PatronCalendar.build(
            {
                code: [parse_month_day(day) for day in days]
                for code, days in self.patron_days.items()
            }
        )

    @property
    def sender_name(self) -> str:
        """The e-mail sender's display name: ``email_from_name``, else the controller's name."""
        return (self.email_from_name or "").strip() or self.controller_name

    def sendgrid_configured(self) -> bool:
        return self.sendgrid_api_key is not None

    def describe(self) -> dict[str, str]:
        """Every setting with its value as text; secrets masked, and so is the password
        of any URL (``postgresql://app:***@db/reconsent``)."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) or (
                isinstance(value, list) and value and isinstance(value[0], SecretStr)
            ):
                out[name] = "********"
            elif value is None or value == []:
                out[name] = "(unset)"
            else:
                out[name] = mask_url_passwords(str(value))
        return out


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
