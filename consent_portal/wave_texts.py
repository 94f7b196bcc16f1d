"""What every page of one wave in one language shares, read once a minute (cached).

The message context (controller, purposes' titles and descriptions, link
lifetime), the notice in force in that language and the wave's purposes for
the ledger.  Values are detached ORM objects that are only read, never added
to another session.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from consent_portal.state import Portal, orm_session
from models import Wave
from reconsent.campaigns.notices import message_context, notice_for
from reconsent.campaigns.waves import wave_config, wave_purposes
from reconsent.kernel.locales import language_of
from reconsent.kernel.ports import MessageContext
from reconsent.ledger.decisions import WaveCatalog

__all__ = ["WaveTexts", "wave_texts"]


@dataclass(frozen=True)
class WaveTexts:
    context: MessageContext
    #: The wave's purposes and the notice shown in this language (None: not published).
    catalog: WaveCatalog | None

    def notice_view(self) -> dict[str, object]:
        """The notice as the templates show it (trusted HTML of our own catalog)."""
        assert self.catalog is not None
        notice = self.catalog.notice
        return {
            "title": notice.title,
            "version": notice.version,
            "locale": notice.locale,
            "body": Markup(notice.body_html),  # noqa: S704
        }


def wave_texts(portal: Portal, db: Session | Connection, wave: Wave, locale: str) -> WaveTexts:
    """The shared texts of ``wave`` in ``locale`` (from the portal's cache when fresh)."""
    language = language_of(locale)

    def build() -> WaveTexts:
        with orm_session(db) as session:
            context = message_context(session, wave, language, portal.settings)
            notice = notice_for(session, wave.notice_version, language)
            purposes = tuple(wave_purposes(session, wave_config(wave)))
            if notice is not None:
                session.expunge(notice)
            for purpose in purposes:
                session.expunge(purpose)
        return WaveTexts(context, WaveCatalog(purposes, notice) if notice else None)

    return portal.cache.get(("wave_texts", wave.id, language), build)
