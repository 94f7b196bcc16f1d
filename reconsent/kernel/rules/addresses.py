"""Address normalisation and the keyed hash used by the suppression list."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

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
