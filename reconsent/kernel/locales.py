"""Locales: the one normaliser of ``"it-IT"`` / ``"en_GB"`` / ``"IT"`` to a language.

The product speaks the languages in :data:`SUPPORTED_LANGUAGES` (notices,
messages, the portal); anything else falls back to :data:`DEFAULT_LANGUAGE`.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "DEFAULT_LANGUAGE",
    "FALLBACK_LANGUAGES",
    "SUPPORTED_LANGUAGES",
    "language_of",
    "primary_subtag",
    "resolve_language",
    "supported_language",
]

#: Languages the notices, messages and portal are written in.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("it", "en")
#: What an unsupported or missing locale is answered in.
DEFAULT_LANGUAGE = "en"
#: The order a text is looked for after the wanted language (notices, purposes).
FALLBACK_LANGUAGES: tuple[str, ...] = ("en", "it")


def primary_subtag(locale: str) -> str:
    """``"it-IT"`` -> ``"it"``, ``"en_GB"`` -> ``"en"``, ``" IT "`` -> ``"it"`` (may be "")."""
    return locale.replace("_", "-").split("-", 1)[0].strip().lower()


def language_of(locale: str | None) -> str:
    """The primary language of ``locale``, supported or not; the default when empty."""
    return primary_subtag(locale or "") or FALLBACK_LANGUAGES[0]


def supported_language(locale: str | None) -> str | None:
    """The supported language of ``locale``, or None."""
    if not locale:
        return None
    language = primary_subtag(locale)
    return language if language in SUPPORTED_LANGUAGES else None


@lru_cache(maxsize=64)
def resolve_language(locale: str | None) -> str:
    """The supported language of ``locale``, else :data:`DEFAULT_LANGUAGE`."""
    return supported_language(locale) or DEFAULT_LANGUAGE
