"""Parse the short durations used in wave configs ("30s", "3d", "2w")."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")
#: A whole duration ("1d12h", "30 S"): the wave config's field pattern, and the parser's check.
DURATION_PATTERN = r"^\s*(\d+\s*[smhdwSMHDW]\s*)+$"
_WHOLE = re.compile(DURATION_PATTERN)


def parse_duration(text: str) -> timedelta:
    """``"1d12h"`` -> 36 hours. Raises ``ValueError`` with the accepted form."""
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit, e.g. '30s', '15m', '3d', '1d12h'"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.lower()))
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)
