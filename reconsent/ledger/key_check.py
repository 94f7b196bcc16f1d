"""The address-hash key must be the one the stored hashes were made with.

Suppressions, contacts and RPO answers are joined by keyed hashes of their
addresses. A process running with another key (another ``RECONSENT_DATA_DIR``
that generated its own development key, a mistyped secret) would hash every
address differently: an imported do-not-contact list would then "create" rows
that match nobody. The first process to hash records the key's fingerprint
(``key_fingerprints``); every later one is held to it and refused in one line.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import KeyFingerprint
from reconsent.db import SessionSource, unit_of_work
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.addresses import key_fingerprint
from reconsent.settings import Settings

__all__ = ["ADDRESS_KEY", "KeyMismatch", "check_address_key", "checked_address_key"]

ADDRESS_KEY = "address_hash_key"


class KeyMismatch(ConfigError):
    """The configured key is not the one the stored data was made with."""


def check_address_key(session: Session, key: bytes, now: datetime) -> None:
    """Record ``key``'s fingerprint if none is, else require it to be the recorded one."""
    mine = key_fingerprint(key)
    stored = session.get(KeyFingerprint, ADDRESS_KEY)
    if stored is None:
        try:
            with session.begin_nested():
                session.add(KeyFingerprint(name=ADDRESS_KEY, fingerprint=mine, recorded_at=now))
            return
        except IntegrityError:  # another process recorded one first: check against it
            stored = session.get(KeyFingerprint, ADDRESS_KEY, populate_existing=True)
            if stored is None:  # pragma: no cover - the conflicting row is there
                raise
    if stored.fingerprint != mine:
        raise KeyMismatch(
            "RECONSENT_ADDRESS_HASH_KEY is not the key this database's address hashes were "
            f"made with (fingerprint {stored.fingerprint}, this key {mine}): set the original "
            "key (or the RECONSENT_DATA_DIR holding it); nothing was done"
        )


def checked_address_key(engine: SessionSource, settings: Settings, now: datetime) -> bytes:
    """The configured address-hash key, held to the database's recorded fingerprint
    (recorded now when none is): what every process that hashes addresses starts with."""
    key = settings.address_key()
    with unit_of_work(engine) as session:
        check_address_key(session, key, now)
    return key
