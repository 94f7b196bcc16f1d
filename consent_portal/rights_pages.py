"""The rights centre under the signed link: see, download, correct, restrict, object, erase.

``GET /c/<token>/rights`` shows one small form per right (each with its own
CSRF token and single-use nonce; a GET changes nothing).  Every POST checks
the link (signature and age), the form's CSRF token, then records a
``rights_requests`` row with the portal's usual evidence through
:mod:`reconsent.rights.subject_requests`; the same form posted twice records one request.
Downloads (JSON, CSV) are POSTs too: each is a recorded portability request.

Access, downloads and erasure also need the person's verified session: a
one-time code sent to the address we hold (:mod:`consent_portal.code_pages`),
so a forwarded link alone can neither see, download nor erase the data. The
other rights stay link-only: a correction is checked by an operator before it
is applied, and a restriction or an objection only stops processing (what a
forwarded link's holder could do is to stop marketing, never to read or
destroy anything), and asking for a code first would make "no" harder than
the "yes" the same link records (art. 7(3), 21(2)).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.i18n import choose_locale, texts
from consent_portal.page_render import error_page, link_error_page, one, page, path_for, read_form
from consent_portal.security import FormGrant, client_ip, user_agent
from consent_portal.state import (
    OpenLink,
    Portal,
    contact_of,
    open_link,
    portal_of,
    retry_on_conflict,
    run_sync,
)
from consent_portal.verified_sessions import session_of
from models import Contact, Purpose, RightsRequest
from reconsent.campaigns.notices import localized
from reconsent.db import unit_of_work
from reconsent.kernel.errors import BadLink, DecisionError, LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.vocab import RightsKind
from reconsent.ledger.portability import export_csv, subject_export
from reconsent.rights.subject_requests import (
    RECTIFIABLE,
    Origin,
    erase_contact,
    object_to_marketing,
    record_rights_request,
    request_rectification,
    restrict_contact,
    rights_dedupe_key,
)

ACTIONS = ("access", "rectification", "restriction", "objection", "erasure")
#: What needs the verified session of a one-time code (and the downloads).
VERIFIED_ACTIONS = ("access", "erasure")
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8"}
#: Field name prefix of a requested correction: ``fix.<field>``.
FIX_PREFIX = "fix."

__all__ = [
    "ACTIONS",
    "FORMATS",
    "VERIFIED_ACTIONS",
    "access_data",
    "download",
    "download_response",
    "record_access",
    "record_download",
    "record_right",
    "rights_action",
    "rights_page",
]


def _forms(portal: Portal, request: Request, link: OpenLink, locale: str) -> dict[str, Any]:
    """One form per right, each with its own nonce (a POST may use only its own)."""
    token = request.path_params["token"]
    targets = {kind: path_for(request, "rights_action", token=token, kind=kind) for kind in ACTIONS}
    targets |= {fmt: path_for(request, "download", token=token, fmt=fmt) for fmt in FORMATS}
    targets["code"] = path_for(request, "link_code", token=token)
    forms: dict[str, Any] = {}
    for name, url in targets.items():
        grant, csrf = portal.csrf.issue(link.payload.token_id, locale)
        forms[name] = {"action": url, "nonce": grant.nonce, "csrf": csrf}
    return forms


def _urls(request: Request, locale: str) -> dict[str, str]:
    token = request.path_params["token"]
    return {
        "rights": path_for(request, "rights", token=token) + f"?lang={locale}",
        "landing": path_for(request, "landing", token=token) + f"?lang={locale}",
    }


def _evidence(portal: Portal, request: Request, link: OpenLink, grant: FormGrant) -> Origin:
    tail = request.url.path.split("/", 3)[-1]  # "rights/<kind>" or "data.<fmt>"
    evidence = {
        "token_id": link.payload.token_id,
        "ip": client_ip(request, truncate=portal.settings.evidence_ip_truncate),
        "user_agent": user_agent(request),
        "path": f"/c/{link.payload.token_id}/{tail}",
        "form_nonce": grant.nonce,
    }
    return Origin(link.request_id, link.channel, evidence, grant.nonce)


# --- the rights centre ------------------------------------------------------------------


async def rights_page(request: Request) -> Response:
    return await run_sync(_rights_page, portal_of(request), request)


def _rights_page(portal: Portal, request: Request) -> Response:
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, request.path_params["token"])
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
    context = {
        "intro": texts(locale)["rights_intro"].format(controller=portal.settings.controller_name),
        "forms": _forms(portal, request, link, locale),
        "fields": [name for name in RECTIFIABLE if name != "note"],
        "urls": _urls(request, locale),
        "verified": _is_verified(portal, request, link),
    }
    return page(portal, request, "rights.html", locale, context)


def _is_verified(portal: Portal, request: Request, link: OpenLink) -> bool:
    """The request carries the session a one-time code opened for the link's person."""
    verified = session_of(portal, request)
    return verified is not None and verified.contact_id == link.contact.id


def _code_needed(portal: Portal, request: Request, locale: str) -> Response:
    back = {"back_url": _urls(request, locale)["rights"]}
    return error_page(portal, request, locale, "code_needed", 403, extra=back)


def _verified(
    portal: Portal, request: Request, fields: dict[str, list[str]]
) -> tuple[OpenLink, FormGrant, str] | Response:
    """The link, the form's grant and the page's language; or the error page to answer."""
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, request.path_params["token"])
    except BadLink as exc:
        return _erasure_replay(portal, request, fields) or link_error_page(portal, request, exc)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    grant = portal.csrf.check(link.payload.token_id, one(fields, "csrf"), one(fields, "nonce"))
    if grant is None:
        fallback = choose_locale(request.query_params.get("lang"), link.contact.locale)
        return error_page(portal, request, fallback, "forbidden", 403)
    return link, grant, choose_locale(grant.language, link.contact.locale)


def _erasure_replay(
    portal: Portal, request: Request, fields: dict[str, list[str]]
) -> Response | None:
    """The erasure page again when an erasure form is posted twice (the link is dead by then)."""
    if request.path_params.get("kind") != "erasure":
        return None
    try:
        payload = portal.signer.verify(LinkUse.LANDING, request.path_params["token"], None)
    except LinkError:
        return None
    grant = portal.csrf.check(payload.token_id, one(fields, "csrf"), one(fields, "nonce"))
    if grant is None:
        return None
    key = rights_dedupe_key(RightsKind.ERASURE, grant.nonce)
    with unit_of_work(portal.engine) as session:
        row = session.scalar(select(RightsRequest).where(RightsRequest.dedupe_key == key))
    if row is None:
        return None
    return _done(portal, request, grant.language or "en", row, replay=True, links=False)


async def rights_action(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(
        _rights_action,
        portal_of(request),
        request,
        fields,
    )


def _rights_action(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    kind = request.path_params["kind"]
    if kind not in ACTIONS:
        locale = choose_locale(request.query_params.get("lang"))
        return error_page(portal, request, locale, "bad_link", 404)
    verified = _verified(portal, request, fields)
    if isinstance(verified, Response):
        return verified
    link, grant, locale = verified
    if kind in VERIFIED_ACTIONS and not _is_verified(portal, request, link):
        return _code_needed(portal, request, locale)
    origin = _evidence(portal, request, link, grant)
    back = {"back_url": _urls(request, locale)["rights"]}
    if kind == "erasure" and one(fields, "confirm") != "yes":
        return error_page(portal, request, locale, "erasure_unconfirmed", 400, extra=back)
    token = request.path_params["token"]

    def record(session: Session) -> tuple[RightsRequest, bool, dict[str, Any] | None]:
        current = open_link(session, portal, LinkUse.LANDING, token)
        contact = contact_of(session, current)
        return record_right(session, portal, contact, kind, origin, fields, locale)

    try:
        row, replay, data = retry_on_conflict(portal.engine, record)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    except DecisionError:
        return error_page(portal, request, locale, "no_correction", 400, extra=back)
    if data is not None:
        return _data_page(portal, request, link, locale, data)
    return _done(portal, request, locale, row, replay=replay, links=kind != "erasure")


def _done(
    portal: Portal,
    request: Request,
    locale: str,
    row: RightsRequest,
    *,
    replay: bool,
    links: bool,
) -> Response:
    t = texts(locale)
    kind = row.kind.value
    context = {
        "kind": kind,
        "title": t[f"done_{kind}_title"],
        "message": t[f"done_{kind}"].format(
            due=row.due_at.strftime("%Y-%m-%d"), contact=portal.settings.controller_contact
        ),
        "reference": t["reference"].format(
            ref=f"{row.id:06d}", received=row.received_at.strftime("%Y-%m-%d %H:%M UTC")
        ),
        "replay": replay,
        "urls": _urls(request, locale) if links else None,
    }
    return page(portal, request, "rights_done.html", locale, context)


def record_right(
    session: Session,
    portal: Portal,
    contact: Contact,
    kind: str,
    origin: Origin,
    fields: dict[str, list[str]],
    locale: str,
) -> tuple[RightsRequest, bool, dict[str, Any] | None]:
    """One of ``ACTIONS`` for ``contact`` (the link's or the preference centre's): its
    row, whether a replay, and for access the data to show (in ``locale``). ``fields``:
    the form (corrections: ``fix.<field>``); correcting nothing raises ``DecisionError``."""
    ctx = portal.ledger_context()
    if kind == "access":
        return record_access(session, portal, contact, locale, origin)
    if kind == "rectification":
        corrections = {name: one(fields, FIX_PREFIX + name) for name in RECTIFIABLE}
        row, replay = request_rectification(
            session, contact=contact, corrections=corrections, now=ctx.now, origin=origin
        )
    elif kind == "restriction":
        row, replay = restrict_contact(session, contact=contact, now=ctx.now, origin=origin)
    elif kind == "objection":
        row, replay = object_to_marketing(session, contact=contact, ctx=ctx, origin=origin)
    else:
        row, replay = erase_contact(session, contact=contact, ctx=ctx, origin=origin)
    return row, replay, None


def record_access(
    session: Session, portal: Portal, contact: Contact, locale: str, origin: Origin
) -> tuple[RightsRequest, bool, dict[str, Any]]:
    """An access request, answered at once: its row, whether a replay, and the data shown."""
    row, replay = record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.ACCESS,
        now=portal.clock.now(),
        origin=origin,
        completed=True,
    )
    return row, replay, access_data(session, portal, contact, locale)


def record_download(
    session: Session, portal: Portal, contact: Contact, fmt: str, origin: Origin
) -> dict[str, Any]:
    """A portability request in ``fmt``, answered at once: the export."""
    record_rights_request(
        session,
        contact=contact,
        kind=RightsKind.PORTABILITY,
        now=portal.clock.now(),
        origin=origin,
        details={"format": fmt},
        completed=True,
    )
    return subject_export(
        session, contact, portal.settings.controller_name, portal.settings.evidence_wrapping_key()
    )


def access_data(session: Session, portal: Portal, contact: Contact, locale: str) -> dict[str, Any]:
    """What the access page shows: the subject's export and the purposes' titles."""
    data = subject_export(
        session, contact, portal.settings.controller_name, portal.settings.evidence_wrapping_key()
    )
    titles = {
        p.code: localized(p.titles, locale, default=p.code)
        for p in session.scalars(select(Purpose))
    }
    return {**data, "purpose_titles": titles}


def _data_page(
    portal: Portal, request: Request, link: OpenLink, locale: str, data: dict[str, Any]
) -> Response:
    forms = _forms(portal, request, link, locale)
    context = {
        "data": data,
        "forms": {fmt: forms[fmt] for fmt in FORMATS},
        "urls": _urls(request, locale),
    }
    return page(portal, request, "data.html", locale, context)


# --- downloads (portability) --------------------------------------------------------------


async def download(request: Request) -> Response:
    fields = await read_form(request)
    return await run_sync(_download, portal_of(request), request, fields)


def _download(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        return error_page(portal, request, choose_locale(None), "bad_link", 404)
    verified = _verified(portal, request, fields)
    if isinstance(verified, Response):
        return verified
    link, grant, locale = verified
    if not _is_verified(portal, request, link):
        return _code_needed(portal, request, locale)
    origin = _evidence(portal, request, link, grant)
    token = request.path_params["token"]

    def record(session: Session) -> dict[str, Any]:
        current = open_link(session, portal, LinkUse.LANDING, token)
        return record_download(session, portal, contact_of(session, current), fmt, origin)

    try:
        data = retry_on_conflict(portal.engine, record)
    except LinkError as exc:
        return link_error_page(portal, request, exc)
    return download_response(portal, fmt, data)


def download_response(portal: Portal, fmt: str, data: dict[str, Any]) -> Response:
    """The export as an attachment: JSON, or CSV with a BOM (spreadsheets read UTF-8)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
    else:
        body = "\ufeff" + export_csv(data)
    stamp = portal.clock.now().strftime("%Y%m%d")
    return Response(
        body,
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="my-data-{stamp}.{fmt}"'},
    )
