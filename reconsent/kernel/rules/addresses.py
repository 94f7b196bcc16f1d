"""Address normalisation and the keyed hash used by the suppression list."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from reconsent.kernel.errors import AddressError
from reconsent.kernel.vocab import AddressKind


def normalise_email(raw: str) -> str:
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(f"invalid email: {exc}") from None
    # Domains are case-insensitive; local parts are, at every provider that matters.
    return result.normalized.lower()


def normalise_phone(raw: str, default_region: str = "IT") -> str:
    """To E.164; numbers without a country code are read in ``default_region``."""
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError(f"invalid phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise AddressError(f"invalid phone number: {raw.strip()!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_for_locale(locale: str) -> str:
    """'it' -> IT, 'en-GB' -> GB, 'en' -> GB (our first users are Italian and British)."""
    if "-" in locale or "_" in locale:
        return locale.replace("_", "-").split("-")[1].upper()
    return {"it": "IT", "en": "GB", "de": "DE", "fr": "FR", "es": "ES"}.get(locale.lower(), "IT")


def address_hash(key: bytes, kind: AddressKind, normalised: str) -> str:
    """HMAC-SHA256 of a normalised address: joinable, not reversible without the key."""
    return address_hasher(key)(kind, normalised)


def address_hasher(key: bytes) -> Callable[[AddressKind, str], str]:
    """:func:`address_hash` with the key set up once (a batch hashes 10,000 numbers)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)

    def digest(kind: AddressKind, normalised: str) -> str:
        mac = keyed.copy()
        mac.update(f"{kind.value}:{normalised}".encode())
        return mac.hexdigest()

    return digest


def key_fingerprint(key: bytes) -> str:
    """A fingerprint of an address-hash key: an HMAC of a fixed label under it (the key
    cannot be recovered from it, and no address is involved)."""
    label = b"reconsent.address-hash-key.fingerprint.v1"
    return hmac.new(key, label, hashlib.sha256).hexdigest()[:16]


_UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for a prefix it cannot place
#: Instants (noon UTC, the 1st and 15th of each month of 2025-2027) at which two zones
#: must show the same UTC offset to be one clock (Europe/Vatican and Europe/Rome).
_SAMPLES = tuple(
    datetime(year, month, day, 12, tzinfo=UTC)
    for year in (2025, 2026, 2027)
    for month in range(1, 13)
    for day in (1, 15)
)


def phone_timezone(e164: str) -> str | None:
    """The IANA zone of a number's area when it has one clock, else ``None``.

    ``phonenumbers`` names every zone a number's prefix may be in: Italian mobiles
    give Europe/Rome and Europe/Vatican, British ones London, Jersey, Guernsey and
    the Isle of Man; these keep the same time all year, so they count as one, named
    after the zone of the country's own fixed lines (Europe/Rome, Europe/London).
    Russian or Australian mobiles span several clocks: ``None`` (use a default).
    """
    from phonenumbers.timezone import time_zones_for_number  # its data: loaded when needed

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = sorted(set(time_zones_for_number(number)) - {_UNKNOWN_ZONE})
    clocks = {_clock(zone) for zone in zones}
    if len(clocks) != 1 or None in clocks:
        return None
    if len(zones) == 1:
        return zones[0]
    region = phonenumbers.region_code_for_number(number)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    home = set(time_zones_for_number(example)) & set(zones) if example else set()
    return sorted(home)[0] if home else zones[0]


def _clock(zone: str) -> tuple[timedelta | None, ...] | None:
    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return tuple(moment.astimezone(info).utcoffset() for moment in _SAMPLES)
