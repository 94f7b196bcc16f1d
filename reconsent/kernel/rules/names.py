"""Names as messages can carry them: no control characters.

A given name goes into an e-mail's ``To`` header and every greeting. A CR LF
in it (a CRM field pasted with a line break) would make the message fail to
build (header injection is refused by the e-mail library) or, worse, would be
read as a header by a lax one. Importers refuse such a name
(:func:`control_characters`), and whatever reaches a message anyway is
normalised (:func:`display_name`).
"""

from __future__ import annotations

import unicodedata

__all__ = ["control_characters", "display_name"]


def _is_control(char: str) -> bool:
    # Cc: C0/C1 controls (CR, LF, TAB, NUL...); Zl/Zp: the Unicode line and paragraph
    # separators; Cf format characters (zero-width joiners, accents' helpers) are kept.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, as ``U+000D`` style names (none: empty)."""
    return sorted({f"U+{ord(c):04X}" for c in text if _is_control(c)})


def display_name(name: str | None) -> str | None:
    """``name`` with each run of control characters and spaces made one space, trimmed;
    None when nothing is left."""
    if not name:
        return None
    cleaned = "".join(" " if _is_control(c) else c for c in name)
    return " ".join(cleaned.split()) or None
