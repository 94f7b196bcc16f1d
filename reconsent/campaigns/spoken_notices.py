"""The spoken notice of a call: what a person heard, kept as an immutable notice.

Before its questions a call reads who is calling, why, the person's rights and
where the full notice is (:func:`channels.ivr_twiml.call_script` gives the
exact words, or names the recorded audio played). That text is published
here as a notice of its own, versioned by its digest
(:mod:`reconsent.kernel.notice_versions`), the first time a call uses it: the
answers given on the phone name *it* as the notice presented, not the web notice
nobody read to them. The same words give the same version; changed words (a
new controller name, another purpose title) give a new one. Published notices
are append-only, so a version, once written, means those words forever.
"""

from __future__ import annotations

import hashlib
import html
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Notice
from reconsent.db import insert_ignoring_conflicts
from reconsent.kernel.notice_versions import spoken_version

__all__ = ["spoken_notice"]

_TITLES = {"it": "Informativa letta al telefono", "en": "Notice read on the phone"}


def spoken_body(script: str) -> str:
    """The notice's HTML: each sentence group of the script as a paragraph."""
    paragraphs = [line.strip() for line in script.splitlines() if line.strip()]
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def spoken_notice(
    session: Session, base_version: str, language: str, script: str, now: datetime
) -> Notice:
    """The published spoken notice of ``script`` (read from ``base_version``), created
    the first time (a concurrent first use inserts it once: the (version, locale) pair
    is unique)."""
    body = spoken_body(script)
    digest = hashlib.sha256(body.encode()).hexdigest()
    version = spoken_version(base_version, digest)
    found = _find(session, version, language)
    if found is not None:
        return found
    session.execute(
        insert_ignoring_conflicts(session, Notice).values(
            version=version,
            locale=language,
            title=_TITLES.get(language, _TITLES["en"]),
            body_html=body,
            digest=digest,
            published_at=now,
            effective_from=now,
        )
    )
    created = _find(session, version, language)
    assert created is not None  # inserted now, or by a concurrent first call
    return created


def _find(session: Session, version: str, language: str) -> Notice | None:
    return session.scalar(
        select(Notice).where(Notice.version == version, Notice.locale == language)
    )
