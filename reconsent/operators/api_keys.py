"""API keys of the operator API: created, listed, revoked, rotated and checked.

A key reads ``rk_<prefix>_<secret>``: the prefix (12 hex) finds its row, the
secret (32 random bytes) is never stored, only the SHA-256 of the whole key,
compared in constant time. The key is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiKey
from reconsent.kernel.errors import ConfigError, NotFoundError

__all__ = [
    "SCOPES",
    "Caller",
    "IssuedKey",
    "authenticate",
    "create_key",
    "list_keys",
    "parse_scopes",
    "revoke_key",
    "rotate_key",
]

#: What a key may be allowed to do.
SCOPES = ("contactability:read", "consents:write", "export:read")
_PREFIX = "rk_"


@dataclass(frozen=True)
class Caller:
    """The key a request was authenticated with (named in the evidence of its writes)."""

    id: int
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class IssuedKey:
    id: int
    name: str
    scopes: tuple[str, ...]
    key: str  # shown once


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """The scopes of a comma-separated list, each known; raises ``ConfigError``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ConfigError(f"scopes must be among {', '.join(SCOPES)} (got {', '.join(unknown)})")
    return scopes


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new(session: Session, name: str, scopes: tuple[str, ...], now: datetime) -> IssuedKey:
    if not name.strip() or len(name) > 100:
        raise ConfigError("a key needs a name of at most 100 characters")
    prefix = secrets.token_hex(6)
    key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name.strip(),
        prefix=prefix,
        secret_sha256=_digest(key),
        scopes=",".join(scopes),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return IssuedKey(row.id, row.name, scopes, key)


def create_key(session: Session, name: str, scopes: str, now: datetime) -> IssuedKey:
    return _new(session, name, parse_scopes(scopes), now)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def _find(session: Session, ref: str) -> ApiKey:
    """A key by id, prefix or name (the live one of that name)."""
    query = select(ApiKey)
    if ref.isdigit():
        query = query.where(ApiKey.id == int(ref))
    else:
        prefix = ref.removeprefix(_PREFIX).split("_", 1)[0]
        query = query.where(
            (ApiKey.prefix == prefix) | ((ApiKey.name == ref) & ApiKey.revoked_at.is_(None))
        )
    found = list(session.scalars(query))
    if len(found) != 1:
        raise NotFoundError(f"no single API key matches {ref!r} (give its id)")
    return found[0]


def revoke_key(session: Session, ref: str, now: datetime) -> ApiKey:
    key = _find(session, ref)
    if key.revoked_at is None:
        key.revoked_at = now
    return key


def rotate_key(session: Session, ref: str, now: datetime) -> IssuedKey:
    """A new key with the same name and scopes; the old one is revoked at once."""
    old = _find(session, ref)
    if old.revoked_at is not None:
        raise ConfigError(f"key {old.id} is revoked: create a new one")
    issued = _new(session, old.name, tuple(old.scopes.split(",")), now)
    session.get_one(ApiKey, issued.id).replaces_id = old.id
    old.revoked_at = now
    return issued


def authenticate(session: Session, presented: str) -> Caller | None:
    """The live key ``presented`` is, or None (unknown, malformed or revoked)."""
    if not presented.startswith(_PREFIX) or len(presented) > 200:
        return None
    prefix = presented[len(_PREFIX) :].split("_", 1)[0]
    row = session.execute(
        select(
            ApiKey.id, ApiKey.name, ApiKey.scopes, ApiKey.secret_sha256, ApiKey.revoked_at
        ).where(ApiKey.prefix == prefix)
    ).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, _digest(presented)):
        return None
    if row.revoked_at is not None:
        return None
    return Caller(row.id, row.name, frozenset(row.scopes.split(",")))
