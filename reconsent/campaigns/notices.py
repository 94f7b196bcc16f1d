"""What a wave says, in one locale: the shared message context and the notice shown.

Pure reads over the catalog, used by the dispatcher (one context per wave and
locale, so a batch can share it), the portal and the IVR webhooks.  The
result of :func:`message_context` is a frozen value built from the wave, the
catalog and the settings only: callers may cache it per ``(wave.id, locale)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Notice, Purpose, Wave
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.kernel.locales import FALLBACK_LANGUAGES, language_of
from reconsent.kernel.ports import MessageContext, PurposeText
from reconsent.settings import Settings

__all__ = [
    "localized",
    "message_context",
    "notice_for",
    "purpose_text",
]


def _candidates(locale: str) -> list[str]:
    wanted = [locale, language_of(locale), *FALLBACK_LANGUAGES]
    return list(dict.fromkeys(wanted))


def localized(texts: Mapping[str, Any], locale: str, default: str = "") -> str:
    """The text for ``locale`` (then its language, then en, then it, then any)."""
    for candidate in _candidates(locale):
        value = texts.get(candidate)
        if isinstance(value, str) and value:
            return value
    for value in texts.values():
        if isinstance(value, str) and value:
            return value
    return default


def purpose_text(purpose: Purpose, locale: str) -> PurposeText:
    return PurposeText(
        code=purpose.code,
        title=localized(purpose.titles, locale, default=purpose.code),
        description=localized(purpose.descriptions, locale),
    )


def notice_for(session: Session, version: str, locale: str) -> Notice | None:
    """The notice of ``version`` shown to someone reading ``locale`` (fallback en, it)."""
    candidates = _candidates(locale)
    found = {
        notice.locale: notice
        for notice in session.scalars(
            select(Notice).where(Notice.version == version, Notice.locale.in_(candidates))
        )
    }
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    return None


def message_context(
    session: Session, wave: Wave, locale: str, settings: Settings
) -> MessageContext:
    """Everything the messages of ``wave`` in ``locale`` share (no personal data)."""
    config = wave_config(wave)
    lang = language_of(locale)
    lifetime = config.link_lifetime_delta
    return MessageContext(
        wave_name=wave.name,
        locale=lang,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        purposes=tuple(purpose_text(p, lang) for p in wave_purposes(session, config)),
        link_lifetime_days=max(1, math.ceil(lifetime.total_seconds() / 86400)),
    )
