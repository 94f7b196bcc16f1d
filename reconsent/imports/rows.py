"""Parsing and validating one CSV row: pure functions, no database, no files.

Each ``parse_*_row`` takes the row as a mapping of (lower-case) column name to
text and returns a typed row, or raises :class:`InvalidRowError` with a reason that
never quotes personal data (names, email addresses, phone numbers).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import available_timezones

from reconsent.imports.redaction import redact, shown
from reconsent.kernel.errors import AddressError, InvalidRowError
from reconsent.kernel.locales import SUPPORTED_LANGUAGES
from reconsent.kernel.rules.addresses import (
    normalise_email,
    normalise_phone,
    phone_timezone,
    region_for_locale,
)
from reconsent.kernel.rules.names import control_characters
from reconsent.kernel.rules.patron_days import parse_municipality
from reconsent.kernel.vocab import AddressKind, Channel, ConsentState, SuppressionReason

#: States a CRM can report; the others are the product's own (requested, expired...).
IMPORTABLE_STATES = (ConsentState.GIVEN, ConsentState.REFUSED, ConsentState.WITHDRAWN)

CONTACT_COLUMNS = (
    "external_id", "given_name", "family_name", "email", "phone", "locale", "timezone",
)  # fmt: skip
CONSENT_COLUMNS = (
    "external_id", "purpose", "state", "captured_at", "notice_version", "channel", "source",
)  # fmt: skip
#: A CRM's opt-out flags (yes/no): a "yes" suppresses that channel for the person's address.
OPT_OUT_CHANNELS = {
    "email_opt_out": Channel.EMAIL, "sms_opt_out": Channel.SMS, "call_opt_out": Channel.IVR,
}  # fmt: skip
CONTACT_OPTIONAL_COLUMNS = ("customer_since", "contract_exempt", "municipality", *OPT_OUT_CHANNELS)
CONSENT_OPTIONAL_COLUMNS = ("evidence_ref",)
SUPPRESSION_COLUMNS = ("address", "channel", "reason", "source")

_LOCALE = re.compile(r"^([A-Za-z]{2,3})([-_][A-Za-z0-9]{1,8})*$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DEDUPE_PREFIX = "reconsent.import.consent.v1"


@dataclass(frozen=True)
class ContactRow:
    external_id: str
    given_name: str | None
    family_name: str | None
    email: str | None  # normalised (lower-case)
    phone: str | None  # E.164
    locale: str  # base language, lower-case ("it")
    timezone: str  # canonical zone key ("Europe/Rome")
    #: The date of the person's first (or last) sale: the soft-spam evidence (art. 130(4)).
    customer_since: date | None = None
    #: The file has a ``customer_since`` column (a file without it leaves the stored value).
    customer_column: bool = False
    #: An active contract (or ended < 30 days ago): the RPO does not revoke their consents.
    contract_exempt: bool | None = None  # None: no such column in the file
    #: ISTAT municipality code: its patron-saint day is a local holiday for calls.
    municipality: str | None = None
    #: The file has a ``municipality`` column (a file without it leaves the stored value).
    municipality_column: bool = False
    #: The channels the CRM says the person opted out of (Salesforce "Email Opt Out",
    #: "Do Not Call"): recorded as suppressions, never read as a consent either way.
    opt_outs: tuple[Channel, ...] = ()


@dataclass(frozen=True)
class ConsentRow:
    external_id: str
    purpose: str
    state: ConsentState
    captured_at: datetime  # UTC
    notice_version: str | None
    channel: Channel | None
    source: str
    evidence_ref: str | None

    @property
    def dedupe_key(self) -> str:
        """sha256 of the normalised values: the same fact always gets the same key,
        whatever file, line or spelling ("2024-01-02" = "2024-01-02T00:00Z") it came from."""
        parts = (
            _DEDUPE_PREFIX,
            self.external_id,
            self.purpose,
            self.state.value,
            self.captured_at.isoformat(),
            self.notice_version or "",
            self.channel.value if self.channel else "",
            self.source,
            self.evidence_ref or "",
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class SuppressionRow:
    kind: AddressKind
    address: str  # normalised; only its hash is stored
    channel: Channel | None  # None: every channel
    reason: SuppressionReason
    source: str


def parse_contact_row(
    values: Mapping[str, str],
    *,
    default_timezone: str | None = None,
    timezone_from_phone: bool = False,
) -> ContactRow:
    """A contact; an empty ``timezone`` is taken from the phone number's area when
    ``timezone_from_phone`` and it has one clock, else ``default_timezone``."""
    external_id = parse_external_id(values.get("external_id", ""))
    raw_locale = values.get("locale", "").strip()
    locale = parse_locale(raw_locale)
    email_text = values.get("email", "").strip()
    phone_text = values.get("phone", "").strip()
    phone = parse_phone(phone_text, region_for_locale(raw_locale)) if phone_text else None
    return ContactRow(
        external_id=external_id,
        given_name=_name(values.get("given_name", ""), "given_name"),
        family_name=_name(values.get("family_name", ""), "family_name"),
        email=parse_email(email_text) if email_text else None,
        phone=phone,
        locale=locale,
        timezone=_contact_timezone(
            values.get("timezone", ""), phone if timezone_from_phone else None, default_timezone
        ),
        customer_since=parse_customer_since(values.get("customer_since", "")),
        customer_column="customer_since" in values,
        contract_exempt=(
            parse_yes_no(values["contract_exempt"], "contract_exempt")
            if "contract_exempt" in values
            else None
        ),
        municipality=parse_municipality(values.get("municipality", "")),
        municipality_column="municipality" in values,
        opt_outs=tuple(
            channel
            for column, channel in OPT_OUT_CHANNELS.items()
            if parse_yes_no(values.get(column, ""), column)
        ),
    )


def _contact_timezone(text: str, phone: str | None, default: str | None) -> str:
    if text.strip():
        return parse_timezone(text)
    zone = phone_timezone(phone) if phone else None
    if zone is not None:
        return zone
    if default:
        return parse_timezone(default)
    if phone is not None:
        raise InvalidRowError(
            "timezone is required: the phone's area has more than one time zone "
            "(give --default-timezone)"
        )
    raise InvalidRowError("timezone is required")


def parse_yes_no(text: str, column: str) -> bool:
    """``yes``/``no``, ``true``/``false``, ``1``/``0``, ``si`` (empty: no)."""
    value = text.strip().lower()
    if value in ("", "no", "false", "0", "n"):
        return False
    if value in ("yes", "true", "1", "y", "si", "sì"):
        return True
    raise InvalidRowError(f"{column}: {shown(value[:10])} is not yes or no")


def parse_customer_since(text: str) -> date | None:
    """``2024-05-31`` (ISO date) or empty: when the person became a customer."""
    value = text.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidRowError(
            f"invalid customer_since {shown(value[:20])}: use an ISO date, e.g. 2024-05-31"
        ) from None


def parse_consent_row(values: Mapping[str, str], now: datetime) -> ConsentRow:
    channel_text = values.get("channel", "").strip().lower()
    return ConsentRow(
        external_id=parse_external_id(values.get("external_id", "")),
        purpose=parse_purpose_code(values.get("purpose", "")),
        state=parse_state(values.get("state", "")),
        captured_at=parse_captured_at(values.get("captured_at", ""), now),
        notice_version=_optional(values.get("notice_version", ""), "notice_version", 32),
        channel=parse_channel(channel_text) if channel_text else None,
        source=_required(values.get("source", ""), "source", 128),
        evidence_ref=_optional(values.get("evidence_ref", ""), "evidence_ref", 1000),
    )


def parse_suppression_row(values: Mapping[str, str], default_region: str) -> SuppressionRow:
    """``default_region`` reads phone numbers written without a country code."""
    raw = values.get("address", "").strip()
    if not raw:
        raise InvalidRowError("address is required")
    if "@" in raw:
        kind, address = AddressKind.EMAIL, parse_email(raw)
    else:
        kind, address = AddressKind.PHONE, parse_phone(raw, default_region)
    channel_text = values.get("channel", "").strip().lower()
    channel = None if channel_text == "all" else parse_channel(channel_text, allow_all=True)
    if channel is not None and channel.address_kind is not kind:
        noun = "an email address" if kind is AddressKind.EMAIL else "a phone number"
        raise InvalidRowError(f"{noun} cannot be suppressed on channel {channel.value}")
    reason_text = values.get("reason", "").strip().lower()
    try:
        reason = SuppressionReason(reason_text)
    except ValueError:
        allowed = ", ".join(r.value for r in SuppressionReason)
        raise InvalidRowError(
            f"unknown reason {shown(reason_text[:32])} (one of: {allowed})"
        ) from None
    source = _required(values.get("source", ""), "source", 128)
    return SuppressionRow(kind, address, channel, reason, source)


def parse_external_id(text: str) -> str:
    value = text.strip()
    _no_controls(value, "external_id")
    if not value:
        raise InvalidRowError("external_id is required")
    if len(value) > 128:
        raise InvalidRowError("external_id is longer than 128 characters")
    return value


def parse_locale(text: str) -> str:
    """'it', 'IT', 'it-IT', 'it_IT' -> 'it'; only supported languages pass."""
    value = text.strip()
    match = _LOCALE.match(value)
    if not value:
        raise InvalidRowError("locale is required")
    language = match.group(1).lower() if match else ""
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidRowError(
            f"unsupported locale {shown(value[:20])} "
            f"(supported: {', '.join(sorted(SUPPORTED_LANGUAGES))})"
        )
    return language


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(text: str) -> str:
    """An IANA zone name (any letter case) -> its canonical spelling."""
    value = text.strip()
    if not value:
        raise InvalidRowError("timezone is required")
    zone = _zones().get(value.lower())
    if zone is None:
        raise InvalidRowError(
            f"unknown timezone {shown(value[:64])} (use an IANA name, e.g. Europe/Rome)"
        )
    return zone


def parse_email(text: str) -> str:
    try:
        return normalise_email(text)
    except AddressError as exc:
        raise InvalidRowError(redact(str(exc), [text])) from None


def parse_phone(text: str, region: str) -> str:
    try:
        return normalise_phone(text, region)
    except AddressError as exc:
        message = str(exc)
        if text.strip() in message:  # the validator quotes the number: say it without it
            message = f"invalid phone number: not a valid number (read in region {region})"
        raise InvalidRowError(redact(message, [text])) from None


def parse_purpose_code(text: str) -> str:
    value = text.strip().lower()
    if not value:
        raise InvalidRowError("purpose is required")
    if not _CODE.match(value):
        raise InvalidRowError(f"unknown purpose {shown(value[:64])}")
    return value


def parse_state(text: str) -> ConsentState:
    value = text.strip().lower()
    if value not in {s.value for s in IMPORTABLE_STATES}:
        allowed = "/".join(s.value for s in IMPORTABLE_STATES)
        raise InvalidRowError(f"invalid state {shown(value[:32])} (one of {allowed})")
    return ConsentState(value)


def parse_channel(text: str, *, allow_all: bool = False) -> Channel:
    value = text.strip().lower()
    try:
        return Channel(value)
    except ValueError:
        allowed = [c.value for c in Channel] + (["all"] if allow_all else [])
        raise InvalidRowError(
            f"invalid channel {shown(value[:16])} (one of {'/'.join(allowed)})"
        ) from None


def parse_captured_at(text: str, now: datetime) -> datetime:
    """ISO 8601 date or date-time; without a UTC offset it is read as UTC.

    A date alone means midnight UTC.  Times after ``now`` are refused."""
    value = text.strip()
    if not value:
        raise InvalidRowError("captured_at is required")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRowError(
            f"invalid captured_at {shown(value[:40])} "
            "(ISO 8601, e.g. 2024-03-01 or 2024-03-01T10:30:00+01:00)"
        ) from None
    moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if moment > now:
        raise InvalidRowError(f"captured_at {shown(value[:40])} is in the future")
    return moment


def _required(text: str, column: str, max_length: int) -> str:
    value = _optional(text, column, max_length)
    if value is None:
        raise InvalidRowError(f"{column} is required")
    return value


def _no_controls(value: str, column: str) -> None:
    """A line break or other control character in a name or id is refused (it would
    break the messages that carry it), naming the column and the characters only."""
    found = control_characters(value)
    if found:
        raise InvalidRowError(f"{column} holds control characters ({', '.join(found)})")


def _optional(text: str, column: str, max_length: int) -> str | None:
    value = text.strip()
    _no_controls(value, column)
    if len(value) > max_length:
        raise InvalidRowError(f"{column} is longer than {max_length} characters")
    return value or None


def _name(text: str, column: str) -> str | None:
    return _optional(text, column, 200)
