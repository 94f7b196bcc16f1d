"""The portal's home page: ``/`` and ``/privacy`` (the page the calls name aloud).

A person who got a message or a call, or who only remembers the host name a
voicemail said, lands here: who is asking and why, how to choose, how to get a
fresh link, how to stop, and the latest published privacy notice. No link, no
personal data, nothing recorded. Its form asks for a one-time code
(:mod:`consent_portal.code_pages`) that opens the standing preference centre
(:mod:`consent_portal.preference_pages`).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.code_pages import HOME_FORM
from consent_portal.i18n import page_locale
from consent_portal.page_render import page, path_for
from consent_portal.state import Portal, portal_of, run_sync
from models import Notice
from reconsent.db import unit_of_work
from reconsent.kernel.notice_versions import SPOKEN_MARK

__all__ = ["home"]


async def home(request: Request) -> Response:
    return await run_sync(_home, portal_of(request), request)


def _home(portal: Portal, request: Request) -> Response:
    locale = page_locale(request.query_params.get("lang"), request.headers.get("accept-language"))
    with unit_of_work(portal.engine) as session:
        latest = session.scalar(
            select(Notice.version)
            .where(Notice.version.not_like(f"%{SPOKEN_MARK}%"))  # not a call's spoken notice
            .order_by(Notice.published_at.desc(), Notice.id.desc())
            .limit(1)
        )
    notice_url = (
        None if latest is None else path_for(request, "notice", version=latest) + f"?lang={locale}"
    )
    grant, csrf = portal.csrf.issue(HOME_FORM, locale)
    code_form = {"action": path_for(request, "me_code"), "nonce": grant.nonce, "csrf": csrf}
    context = {"notice_url": notice_url, "code_form": code_form}
    return page(portal, request, "home.html", locale, context)
