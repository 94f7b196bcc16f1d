"""Names of notice versions: a web notice's, and the spoken notice a call read from it.

A call reads a short spoken notice (who, why, the rights, where the full notice
is) before its questions: what the person heard is its own immutable notice,
versioned by its content: ``<web version>~call-<8 hex of its digest>``, e.g.
``2026-09~call-1a2b3c4d``. The ledger names that spoken notice on every answer
given by phone; eligibility (is this consent under the current notice?) reads
the web version it was derived from: :func:`base_version`.
"""

from __future__ import annotations

SPOKEN_MARK = "~call-"


def spoken_version(base: str, digest: str) -> str:
    return f"{base}{SPOKEN_MARK}{digest[:8]}"


def base_version(version: str) -> str:
    """The web notice version a (possibly spoken) version belongs to."""
    return version.split(SPOKEN_MARK, 1)[0]


def is_spoken(version: str) -> bool:
    return SPOKEN_MARK in version
