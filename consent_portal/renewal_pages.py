"""``POST /c/<token>/renew``: the 410 page's "send me a fresh link" button.

The link's signature must be valid (only its age is not) and the form's CSRF
token must be the one the 410 page issued for it.  What is recorded is a
``link_renewal`` rights request for the link's wave request and step
(:func:`reconsent.rights.renewals.request_link_renewal`); the tick sends it on the
same channel (:func:`reconsent.rights.renewals.send_link_renewals`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.i18n import choose_locale, texts
from consent_portal.page_render import error_page, link_error_page, one, page, read_form
from consent_portal.security import client_ip, user_agent
from consent_portal.state import (
    OpenLink,
    Portal,
    contact_of,
    open_link,
    portal_of,
    retry_on_conflict,
    run_sync,
)
from reconsent.db import unit_of_work
from reconsent.kernel.errors import LinkError
from reconsent.kernel.links import LinkUse
from reconsent.rights.renewals import request_link_renewal
from reconsent.rights.subject_requests import Origin

__all__ = ["renew"]


async def renew(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_renew, portal_of(request), request, fields)


def _renew(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    token = request.path_params["token"]
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, token, check_expiry=False)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    grant = portal.csrf.check(link.payload.token_id, one(fields, "csrf"), one(fields, "nonce"))
    locale = choose_locale(
        grant.language if grant else request.query_params.get("lang"),
        None,
        request.headers.get("accept-language"),
    )
    if grant is None:
        return error_page(portal, request, locale, "forbidden", 403)
    evidence = {
        "token_id": link.payload.token_id,
        "ip": client_ip(request, truncate=portal.settings.evidence_ip_truncate),
        "user_agent": user_agent(request),
        "path": f"/c/{link.payload.token_id}/renew",
        "form_nonce": grant.nonce,
    }
    origin = Origin(link.request_id, link.channel, evidence, grant.nonce)

    def record(session: Session) -> OpenLink:
        current = open_link(session, portal, LinkUse.LANDING, token, check_expiry=False)
        request_link_renewal(
            session,
            contact=contact_of(session, current),
            step_index=current.payload.step_index,
            now=portal.clock.now(),
            origin=origin,
        )
        return current

    try:
        current = retry_on_conflict(portal.engine, record)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    t = texts(locale)
    channel = t[f"channel_{current.channel.value}" if current.channel else "channel_none"]
    context = {"title": t["renewed_title"], "message": t["renewed"].format(channel=channel)}
    return page(portal, request, "message.html", locale, context)
