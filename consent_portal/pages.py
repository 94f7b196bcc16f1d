"""The consent pages: the landing form, the decision, the one-click opt-out, health.

Handlers are async only to read forms; database work and rendering run in the
threadpool (sync SQLAlchemy).  A GET never changes anything: mail scanners
prefetch links.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from channels.base import MessageContext
from consent_portal.i18n import choose_locale, other_locale, texts
from consent_portal.security import client_ip, user_agent
from consent_portal.state import OpenLink, Portal, open_link, portal_of, retry_on_conflict
from reconsent.db import unit_of_work
from reconsent.decisions import DecisionResult, record_decision, record_objection
from reconsent.errors import DecisionError, ExpiredLink, LinkError
from reconsent.links import LinkUse
from reconsent.messages import message_context, notice_for
from reconsent.vocab import CollectionMethod, ConsentState, SuppressionReason

#: Form field prefix of a purpose's Yes/No radio pair: ``p.<purpose code>``.
CHOICE_PREFIX = "p."
YES, NO = "yes", "no"
ACTION_SAVE, ACTION_REFUSE_ALL = "save", "refuse_all"
MAX_FORM_FIELDS = 64

logger = logging.getLogger(__name__)


def _form_fields(form: FormData) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, []).append(value)
    return fields


def _one(fields: Mapping[str, list[str]], name: str) -> str:
    """The field's value when it was sent exactly once (ambiguity counts as absent)."""
    values = set(fields.get(name, []))
    return values.pop() if len(values) == 1 else ""


def explicit_choices(fields: Mapping[str, list[str]], codes: list[str]) -> dict[str, bool]:
    """Purpose code -> given, for the purposes with an explicit, unambiguous Yes or No."""
    choices: dict[str, bool] = {}
    for code in codes:
        value = _one(fields, CHOICE_PREFIX + code)
        if value in (YES, NO):
            choices[code] = value == YES
    return choices


def _page(
    portal: Portal,
    request: Request,
    name: str,
    locale: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    base: dict[str, Any] = {
        "locale": locale,
        "t": texts(locale),
        "switch_locale": other_locale(locale),
        "controller_name": portal.settings.controller_name,
        "controller_contact": portal.settings.controller_contact,
        "css_url": request.url_for("static", path="portal.css").path,
    }
    return portal.templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )


def _error(
    portal: Portal,
    request: Request,
    locale: str,
    key: str,
    status_code: int,
    *,
    back: bool = False,
) -> Response:
    message = texts(locale)[key].format(
        controller=portal.settings.controller_name, contact=portal.settings.controller_contact
    )
    title_key = f"{key}_title" if f"{key}_title" in texts(locale) else "error_title"
    context = {"error": key, "title_key": title_key, "message": message, "back": back}
    return _page(portal, request, "error.html", locale, context, status_code)


def _link_error(portal: Portal, request: Request, exc: LinkError) -> Response:
    """400 for a tampered link, 410 for an expired one; neither names the person."""
    locale = choose_locale(
        request.query_params.get("lang"), None, request.headers.get("accept-language")
    )
    if isinstance(exc, ExpiredLink):
        return _error(portal, request, locale, "expired", 410)
    return _error(portal, request, locale, "bad_link", 400)


# --- landing page ---------------------------------------------------------------------


async def landing(request: Request) -> Response:
    return await run_in_threadpool(_landing, portal_of(request), request)


def _landing(portal: Portal, request: Request) -> Response:
    token = request.path_params["token"]
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, token)
            locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
            context = message_context(session, link.wave, locale, portal.settings)
            notice = notice_for(session, link.wave.notice_version, locale)
            if notice is None:
                return _error(portal, request, locale, "error", 503)
            grant, csrf = portal.csrf.issue(link.payload.token_id, locale)
            t = texts(locale)
            name = link.contact.given_name
            page = {
                "greeting": t["greeting"].format(name=name) if name else t["greeting_anonymous"],
                "who_asks": t["who_asks"].format(controller=portal.settings.controller_name),
                "notice": {
                    "title": notice.title,
                    "version": notice.version,
                    "locale": notice.locale,
                    # Trusted HTML from our own published catalog.
                    "body": Markup(notice.body_html),  # noqa: S704
                },
                "purposes": list(context.purposes),
                "link_lifetime_days": context.link_lifetime_days,
                "nonce": grant.nonce,
                "csrf": csrf,
            }
    except LinkError as exc:
        return _link_error(portal, request, exc)
    return _page(portal, request, "landing.html", locale, page)


# --- the decision ---------------------------------------------------------------------


async def decide(request: Request) -> Response:
    async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
        fields = _form_fields(form)
    return await run_in_threadpool(_decide, portal_of(request), request, fields)


def _decide(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    token = request.path_params["token"]
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.LANDING, token)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    fallback = choose_locale(request.query_params.get("lang"), link.contact.locale)
    nonce = _one(fields, "nonce")
    grant = portal.csrf.check(link.payload.token_id, _one(fields, "csrf"), nonce)
    if grant is None:
        return _error(portal, request, fallback, "forbidden", 403)
    locale = choose_locale(grant.language, link.contact.locale)
    codes = link.config.purposes
    action = _one(fields, "action") or ACTION_SAVE
    if action == ACTION_REFUSE_ALL:
        choices = dict.fromkeys(codes, False)
    else:
        choices = explicit_choices(fields, codes)
    if not choices:
        return _error(portal, request, locale, "no_choice", 400, back=True)
    evidence = {
        "token_id": link.payload.token_id,
        "ip": client_ip(request),
        "user_agent": user_agent(request),
        "path": f"/c/{link.payload.token_id}",
        "form_nonce": grant.nonce,
        "action": action,
    }

    def record(session: Session) -> tuple[DecisionResult, MessageContext]:
        current = open_link(session, portal, LinkUse.LANDING, token)
        result = record_decision(
            session,
            request_id=current.request.id,
            choices=choices,
            method=CollectionMethod.PORTAL,
            channel=current.channel,
            evidence=evidence,
            nonce=grant.nonce,
            ctx=portal.ledger_context(),
            attempt_id=current.attempt_id,
            provider_message_id=current.provider_message_id,
            locale=locale,
        )
        return result, message_context(session, current.wave, locale, portal.settings)

    try:
        result, context = retry_on_conflict(portal.engine, record)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    except DecisionError:
        return _error(portal, request, locale, "error", 400)
    t = texts(locale)
    recorded = [
        {"code": p.code, "title": p.title, "state": result.states[p.code].value}
        for p in context.purposes
        if p.code in result.states
    ]
    page = {
        "result": result,
        "recorded": recorded,
        "recorded_at": t["recorded_at"].format(
            time=result.occurred_at.strftime("%Y-%m-%d %H:%M"), version=result.notice.version
        ),
        "change_again": t["change_again"].format(contact=portal.settings.controller_contact),
        "state_labels": {
            ConsentState.GIVEN.value: t["given"],
            ConsentState.REFUSED.value: t["refused"],
            ConsentState.WITHDRAWN.value: t["withdrawn"],
        },
    }
    return _page(portal, request, "done.html", locale, page)


# --- one-click opt-out ----------------------------------------------------------------


async def optout_page(request: Request) -> Response:
    return await run_in_threadpool(_optout_page, portal_of(request), request)


def _optout_page(portal: Portal, request: Request) -> Response:
    """Shows one button; changes nothing (scanners prefetch GETs)."""
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(
                session, portal, LinkUse.OPTOUT, request.path_params["token"], check_expiry=False
            )
            locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    t = texts(locale)
    page = {
        "done": False,
        "intro": t["optout_intro"].format(controller=portal.settings.controller_name),
    }
    return _page(portal, request, "optout.html", locale, page)


async def optout(request: Request) -> Response:
    async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
        fields = _form_fields(form)
    return await run_in_threadpool(_optout, portal_of(request), request, fields)


def _optout(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Response:
    """One-click withdrawal: a person's button, or the RFC 8058 POST of a mail provider.

    Opt-out links do not expire with the wave's link lifetime: withdrawing must
    stay as easy as giving (art. 7(3)), and an unsubscribe link must keep working.
    """
    one_click = _one(fields, "List-Unsubscribe") == "One-Click"
    token = request.path_params["token"]

    def record(session: Session) -> OpenLink:
        link = open_link(session, portal, LinkUse.OPTOUT, token, check_expiry=False)
        record_objection(
            session,
            request_id=link.request.id,
            contact_id=link.contact.id,
            method=CollectionMethod.EMAIL if one_click else CollectionMethod.PORTAL,
            channel=link.channel,
            evidence={
                "token_id": link.payload.token_id,
                "ip": client_ip(request),
                "user_agent": user_agent(request),
                "path": f"/o/{link.payload.token_id}",
                "one_click": one_click,
            },
            ctx=portal.ledger_context(),
            reason=SuppressionReason.UNSUBSCRIBE,
        )
        return link

    try:
        link = retry_on_conflict(portal.engine, record)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    if one_click:
        return Response(status_code=200)
    locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
    return _page(portal, request, "optout.html", locale, {"done": True})


# --- health ---------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    return await run_in_threadpool(_healthz, portal_of(request))


def _healthz(portal: Portal) -> Response:
    try:
        with portal.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.warning("health check: the database is unreachable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
