"""Development keys kept in files under the data directory (``RECONSENT_DEV_KEYS``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["dev_key"]


def dev_key(path: Path) -> str:
    """A random key persisted once under the data dir (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
