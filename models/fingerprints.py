"""Fingerprints of the keys the stored data depends on (issue 17).

Address hashes are keyed HMACs: a suppression made with one key is invisible to
a process running with another (the same file, imported from another working
directory, "created 2" and suppressed nobody). The first process to hash with a
key records its fingerprint; every later one must use the same key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class KeyFingerprint(Base):
    """One key's fingerprint (never the key): ``name`` says which key."""

    __tablename__ = "key_fingerprints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
