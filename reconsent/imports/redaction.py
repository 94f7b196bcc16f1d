"""Keeping personal data out of the reasons a row is refused for.

A reason names the line, the field and the kind of problem.  It may quote the
value of a coded field (a locale, a state, a date) so the user can see the typo,
but only a value shaped like a code: short, without ``@``, without a run of
five digits or more unless it is a date (a phone number never passes).  And before a
reason is reported, the row's own names, e-mail and phone are cut out of it,
should a mapping have put one of them in a coded field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["redact", "shown"]

_CODE = re.compile(r"^[^@\s]*(\s[^@\s]+){0,2}$")  # up to three words, no e-mail
_DATE = re.compile(
    r"^\d{4}-\d{2}(-\d{2})?([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DIGITS = re.compile(r"\d{5,}")


def shown(value: str) -> str:
    """``value`` quoted when it looks like a code or a date, else ``(value not shown)``."""
    text = value.strip()
    if _DATE.match(text) or (len(text) <= 40 and _CODE.match(text) and not _DIGITS.search(text)):
        return repr(text)
    return "(value not shown)"


def redact(message: str, raws: Iterable[str]) -> str:
    """``message`` with each of ``raws`` (and an e-mail's parts) replaced by ``...``."""
    parts: set[str] = set()
    for raw in raws:
        value = raw.strip()
        parts.update(p for p in (value, *value.split("@")) if len(p) >= 3)
    for part in sorted(parts, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.]){re.escape(part)}(?![\w.])", "...", message, flags=re.I)
    return message
