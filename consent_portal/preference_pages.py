"""The standing preference centre: ``/me``, open any time after a one-time code.

No wave link: the person proved control of an address we hold
(:mod:`consent_portal.code_pages`) and holds the short signed session it opened
(:mod:`consent_portal.verified_sessions`). Here they see every purpose of the
catalog with their current state and change any of them (Yes / No: recorded by
:mod:`consent_portal.preference_posts`), object to all marketing at once, and
exercise every right of the link's rights centre: see, download, correct,
restrict, erase (each a rights request, :func:`consent_portal.rights_pages.record_right`,
with no wave request and the channel the code went by).
Every form carries a CSRF token bound to the session; without a session every
page answers 401 with the way to ask for a code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.decision_posts import CHOICE_PREFIX, explicit_choices
from consent_portal.i18n import choose_locale, page_locale, texts
from consent_portal.page_render import error_page, one, page, path_for, read_form
from consent_portal.preference_posts import current_preferences, record_changes
from consent_portal.rights_pages import (
    ACTIONS,
    FORMATS,
    download_response,
    record_download,
    record_right,
)
from consent_portal.security import FormGrant, client_ip, user_agent
from consent_portal.state import Portal, portal_of, retry_on_conflict, run_sync
from consent_portal.verified_sessions import VerifiedSession, clear_session, session_of
from models import Contact
from reconsent.campaigns.notices import localized
from reconsent.db import unit_of_work
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.vocab import ConsentState
from reconsent.rights.subject_requests import RECTIFIABLE, Origin

#: The rights the centre's own forms post (``/me/rights/<kind>``): the rights centre's.
KINDS = ACTIONS

__all__ = ["KINDS", "me_choices", "me_download", "me_rights", "preferences"]


def _no_session(portal: Portal, request: Request) -> Response:
    locale = page_locale(request.query_params.get("lang"), request.headers.get("accept-language"))
    home = {
        "back_url": path_for(request, "home") + f"?lang={locale}#code",
        "back_label": "session_home",
    }
    return error_page(portal, request, locale, "session_needed", 401, extra=home)


def _contact(portal: Portal, session: Session, verified: VerifiedSession) -> Contact | None:
    contact = session.get(Contact, verified.contact_id)
    return None if contact is None or contact.erased_at is not None else contact


def _forms(portal: Portal, request: Request, verified: VerifiedSession, locale: str) -> Any:
    targets = {"choices": path_for(request, "me_choices")}
    targets |= {kind: path_for(request, "me_rights", kind=kind) for kind in KINDS}
    targets |= {fmt: path_for(request, "me_download", fmt=fmt) for fmt in FORMATS}
    forms: dict[str, Any] = {}
    for name, url in targets.items():
        grant, csrf = portal.csrf.issue(verified.csrf_id, locale)
        forms[name] = {"action": url, "nonce": grant.nonce, "csrf": csrf}
    return forms


async def preferences(request: Request) -> Response:
    return await run_sync(_preferences, portal_of(request), request)


def _preferences(portal: Portal, request: Request) -> Response:
    verified = session_of(portal, request)
    if verified is None:
        return _no_session(portal, request)
    with unit_of_work(portal.engine) as session:
        contact = _contact(portal, session, verified)
        if contact is None:
            return _no_session(portal, request)
        locale = choose_locale(request.query_params.get("lang"), contact.locale)
        held = current_preferences(session, contact, portal.clock.now())
        purposes = [
            {
                "code": p.code,
                "field": CHOICE_PREFIX + p.code,
                "title": localized(p.titles, locale, default=p.code),
                "description": localized(p.descriptions, locale),
                "state": held.states[p.code].value if p.code in held.states else None,
            }
            for p in held.purposes
        ]
        notice_url = (
            None
            if held.notice is None
            else path_for(request, "notice", version=held.notice.version) + f"?lang={locale}"
        )
    context = {
        "purposes": purposes,
        "forms": _forms(portal, request, verified, locale),
        "notice_url": notice_url,
        "fields": [name for name in RECTIFIABLE if name != "note"],
    }
    return page(portal, request, "preferences.html", locale, context)


def _checked(
    portal: Portal, request: Request, fields: dict[str, list[str]]
) -> tuple[VerifiedSession, FormGrant, str] | Response:
    verified = session_of(portal, request)
    if verified is None:
        return _no_session(portal, request)
    grant = portal.csrf.check(verified.csrf_id, one(fields, "csrf"), one(fields, "nonce"))
    locale = choose_locale(grant.language if grant else request.query_params.get("lang"))
    if grant is None:
        return error_page(portal, request, locale, "forbidden", 403)
    return verified, grant, locale


def _evidence(portal: Portal, request: Request, verified: VerifiedSession, grant: FormGrant) -> Any:
    return {
        "via": "preference_centre",
        "session_id": verified.session_id,
        "ip": client_ip(request, truncate=portal.settings.evidence_ip_truncate),
        "user_agent": user_agent(request),
        "path": str(request.url.path),
        "form_nonce": grant.nonce,
    }


def _origin(
    portal: Portal, request: Request, verified: VerifiedSession, grant: FormGrant
) -> Origin:
    """A rights request's origin: no wave request; the channel the code went by."""
    return Origin(None, verified.channel, _evidence(portal, request, verified, grant), grant.nonce)


def _back(request: Request, locale: str) -> dict[str, str]:
    return {"back_url": path_for(request, "preferences") + f"?lang={locale}"}


async def me_choices(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_me_choices, portal_of(request), request, fields)


def _me_choices(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    checked = _checked(portal, request, fields)
    if isinstance(checked, Response):
        return checked
    verified, grant, locale = checked
    evidence = _evidence(portal, request, verified, grant)

    def work(session: Session) -> dict[str, ConsentState] | None:
        contact = _contact(portal, session, verified)
        if contact is None:
            return None
        codes = [p.code for p in current_preferences(session, contact, portal.clock.now()).purposes]
        return record_changes(
            session,
            contact,
            explicit_choices(fields, codes),
            evidence=evidence,
            nonce=grant.nonce,
            ctx=portal.ledger_context(),
        )

    try:
        recorded = retry_on_conflict(portal.engine, work)
    except DecisionError:
        return error_page(portal, request, locale, "no_choice", 400, extra=_back(request, locale))
    if recorded is None:
        return _no_session(portal, request)
    t = texts(locale)
    message = t["prefs_saved"] if recorded else t["prefs_unchanged"]
    context = {"title": t["prefs_saved_title"], "message": message, **_back(request, locale)}
    return page(portal, request, "message.html", locale, context)


async def me_rights(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_me_rights, portal_of(request), request, fields)


def _me_rights(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        return error_page(portal, request, choose_locale(None), "bad_link", 404)
    checked = _checked(portal, request, fields)
    if isinstance(checked, Response):
        return checked
    verified, grant, locale = checked
    if kind == "erasure" and one(fields, "confirm") != "yes":
        back = _back(request, locale)
        return error_page(portal, request, locale, "erasure_unconfirmed", 400, extra=back)
    origin = Origin(
        None, verified.channel, _evidence(portal, request, verified, grant), grant.nonce
    )

    def work(session: Session) -> tuple[str, Any] | None:
        contact = _contact(portal, session, verified)
        if contact is None:
            return None
        row, _replay, data = record_right(session, portal, contact, kind, origin, fields, locale)
        return ("data", data) if data is not None else ("done", row.due_at)

    try:
        done = retry_on_conflict(portal.engine, work)
    except DecisionError:  # a correction form with nothing to correct
        back = _back(request, locale)
        return error_page(portal, request, locale, "no_correction", 400, extra=back)
    if done is None:
        return _no_session(portal, request)
    what, value = done
    if what == "data":
        forms = _forms(portal, request, verified, locale)
        urls = {"rights": path_for(request, "preferences") + f"?lang={locale}", "landing": None}
        context = {"data": value, "forms": {f: forms[f] for f in FORMATS}, "urls": urls}
        return page(portal, request, "data.html", locale, context)
    t = texts(locale)
    context = {
        "title": t[f"done_{kind}_title"],
        "message": t[f"done_{kind}"].format(
            due=value.strftime("%Y-%m-%d"), contact=portal.settings.controller_contact
        ),
    }
    if kind != "erasure":
        context |= _back(request, locale)
    response = page(portal, request, "message.html", locale, context)
    if kind == "erasure":
        clear_session(portal, response)  # nobody is left to show
    return response


async def me_download(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_me_download, portal_of(request), request, fields)


def _me_download(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        return error_page(portal, request, choose_locale(None), "bad_link", 404)
    checked = _checked(portal, request, fields)
    if isinstance(checked, Response):
        return checked
    verified, grant, _locale = checked
    origin = Origin(
        None, verified.channel, _evidence(portal, request, verified, grant), grant.nonce
    )

    def work(session: Session) -> dict[str, Any] | None:
        contact = _contact(portal, session, verified)
        if contact is None:
            return None
        return record_download(session, portal, contact, fmt, origin)

    data = retry_on_conflict(portal.engine, work)
    if data is None:
        return _no_session(portal, request)
    return download_response(portal, fmt, data)
