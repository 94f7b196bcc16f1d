"""Rendering the portal's pages and friendly error pages, and reading its small forms.

Every page gets the same base context (locale, texts, controller, the
stylesheet); error pages name nobody (an expired link's page speaks the
language of the person its valid signature names).  An expired link's 410 page carries a
form that asks for a fresh link on the same channel (``POST /c/<token>/renew``).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from consent_portal.i18n import choose_locale, other_locale, page_locale, texts
from consent_portal.state import Portal
from models import Contact, WaveRequest
from reconsent.kernel.errors import ExpiredLink, LinkError
from reconsent.kernel.links import token_id

#: Forms here are a handful of fields.
MAX_FORM_FIELDS = 64

__all__ = [
    "MAX_FORM_FIELDS",
    "base_context",
    "error_page",
    "form_fields",
    "link_error_page",
    "one",
    "page",
    "path_for",
    "read_form",
]


def form_fields(form: FormData) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


async def read_form(request: Request) -> dict[str, list[str]]:
    """The form's text fields.  An urlencoded body (what a browser posts) is parsed by
    ``urllib.parse`` (several times faster than the streaming multipart parser behind
    ``request.form()``, which reads anything else); too many fields, or a body that is
    not UTF-8, is a 400."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            return form_fields(form)
    body = await request.body()
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "unreadable form") from None
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def one(fields: Mapping[str, list[str]], name: str) -> str:
    """The field's value when it was sent exactly once (ambiguity counts as absent)."""
    values = set(fields.get(name, []))
    return values.pop() if len(values) == 1 else ""


def path_for(request: Request, name: str, **params: str) -> str:
    """The path of route ``name`` with ``params`` (``request.url_for(...).path``, cheaper).

    The route's path is looked up once per route and parameter names, with
    placeholders, then filled in: on the hot pages this replaces a walk of the
    routing table per link.  Values are used as given, as ``url_path_for`` does.
    """
    router = request.scope.get("router") or request.scope["app"]
    path = _route_path(router, name, tuple(sorted(params)))
    for key, value in params.items():
        path = path.replace(_PLACEHOLDER.format(key), value)
    root: str = request.scope.get("root_path", "")
    return root + path


_PLACEHOLDER = "\x00{}\x00"
#: (id of the router, route name, parameter names) -> (the router, weakly; the path).
_PATHS: dict[tuple[int, str, tuple[str, ...]], tuple[weakref.ref[Any], str]] = {}


def _route_path(router: Any, name: str, keys: tuple[str, ...]) -> str:
    key = (id(router), name, keys)
    known = _PATHS.get(key)
    if known is not None and known[0]() is router:
        return known[1]
    path = str(router.url_path_for(name, **{k: _PLACEHOLDER.format(k) for k in keys}))
    if len(_PATHS) > 1024:
        _PATHS.clear()
    _PATHS[key] = (weakref.ref(router), path)
    return path


def page(
    portal: Portal,
    request: Request,
    name: str,
    locale: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return portal.templates.TemplateResponse(
        request,
        name,
        {**base_context(portal, request, locale), **context},
        status_code=status_code,
        headers=headers,
    )


def base_context(portal: Portal, request: Request, locale: str) -> dict[str, Any]:
    """What every page's template gets: the language, its texts, the controller, the CSS
    and the favicon."""
    return {
        "locale": locale,
        "t": texts(locale),
        "switch_locale": other_locale(locale),
        "controller_name": portal.settings.controller_name,
        "controller_contact": portal.settings.controller_contact,
        "css_url": path_for(request, "static", path="portal.css"),
        "favicon_url": path_for(request, "static", path="favicon.svg"),
    }


def error_page(
    portal: Portal,
    request: Request,
    locale: str,
    key: str,
    status_code: int,
    *,
    back: bool = False,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    message = texts(locale)[key].format(
        controller=portal.settings.controller_name, contact=portal.settings.controller_contact
    )
    title_key = f"{key}_title" if f"{key}_title" in texts(locale) else "error_title"
    context = {"error": key, "title_key": title_key, "message": message, "back": back}
    return page(
        portal,
        request,
        "error.html",
        locale,
        {**context, **(extra or {})},
        status_code,
        headers=headers,
    )


def _contact_locale(portal: Portal, request_id: int) -> str | None:
    with portal.engine.connect() as conn:
        found = conn.execute(
            select(Contact.locale)
            .join(WaveRequest, WaveRequest.contact_id == Contact.id)
            .where(WaveRequest.id == request_id)
        ).scalar()
    return None if found is None else str(found)


def link_error_page(portal: Portal, request: Request, exc: LinkError) -> Response:
    """400 for a tampered link, 410 for an expired one; neither names the person.

    The 410 page offers a fresh link: a form posting to the token's ``renew``
    route (the signature is valid, only the age is not), with its CSRF token.
    """
    locale = page_locale(request.query_params.get("lang"), request.headers.get("accept-language"))
    if not isinstance(exc, ExpiredLink):
        return error_page(portal, request, locale, "bad_link", 400)
    if exc.request_id is not None and not request.query_params.get("lang"):
        # The signature holds (only the age does not): speak the person's language.
        locale = choose_locale(None, _contact_locale(portal, exc.request_id))
    token = request.path_params.get("token", "")
    grant, csrf = portal.csrf.issue(token_id(token), locale)
    renew = {
        "renew_url": path_for(request, "renew", token=token),
        "nonce": grant.nonce,
        "csrf": csrf,
    }
    return error_page(portal, request, locale, "expired", 410, extra={"renew": renew})
