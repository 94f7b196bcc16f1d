"""The consent pages: the landing form, the decision, the one-click opt-out, health.

Handlers are async only to read forms; database work and rendering run in the
threadpool (sync SQLAlchemy).  A GET never changes anything: mail scanners
prefetch links.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consent_portal.decision_posts import (
    ACTION_SAVE,
    NoChoice,
    Outcome,
    Post,
    Recorded,
)
from consent_portal.i18n import choose_locale, page_locale, texts
from consent_portal.page_render import base_context, path_for, read_form
from consent_portal.page_render import error_page as _error
from consent_portal.page_render import link_error_page as _link_error
from consent_portal.page_render import one as _one
from consent_portal.page_render import page as _page
from consent_portal.security import client_ip, user_agent
from consent_portal.shells import shell_page
from consent_portal.state import OpenLink, Portal, open_link, portal_of, retry_on_conflict, run_sync
from consent_portal.wave_texts import wave_texts
from reconsent.db import unit_of_work
from reconsent.kernel.batching import Batcher
from reconsent.kernel.errors import LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.ports import MessageContext
from reconsent.kernel.vocab import CollectionMethod, ConsentState, SuppressionReason
from reconsent.ledger.decisions import DecisionResult
from reconsent.ledger.objections import record_objection

logger = logging.getLogger(__name__)


# --- landing page ---------------------------------------------------------------------


async def landing(request: Request) -> Response:
    return await run_sync(_landing, portal_of(request), request)


def _landing(portal: Portal, request: Request) -> Response:
    token = request.path_params["token"]
    try:
        # Reads only: no session, no transaction (no BEGIN and ROLLBACK round trips).
        with portal.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            link = open_link(conn, portal, LinkUse.LANDING, token)
            locale = choose_locale(request.query_params.get("lang"), link.contact.locale)
            shared = wave_texts(portal, conn, link.wave, locale)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    if shared.catalog is None:
        return _error(portal, request, locale, "error", 503)
    grant, csrf = portal.csrf.issue(link.payload.token_id, locale)
    t = texts(locale)
    name = link.contact.given_name
    values = {
        "greeting": t["greeting"].format(name=name) if name else t["greeting_anonymous"],
        "nonce": grant.nonce,
        "csrf": csrf,
        "token": token,
    }

    def context_for(slots: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **base_context(portal, request, locale),
            "greeting": slots["greeting"],
            "who_asks": t["who_asks"].format(controller=portal.settings.controller_name),
            "notice": shared.notice_view(),
            "purposes": list(shared.context.purposes),
            "link_lifetime_days": shared.context.link_lifetime_days,
            "nonce": slots["nonce"],
            "csrf": slots["csrf"],
            "rights_url": path_for(request, "rights", token=slots["token"]) + f"?lang={locale}",
        }

    return shell_page(portal, request, "landing.html", (link.wave.id, locale), context_for, values)


# --- the decision ---------------------------------------------------------------------


async def decide(request: Request) -> Response:
    """Check the link's signature and the form's CSRF token (no database), then record
    the decision with the others posted at the same moment (``decision_posts``)."""
    fields = await read_form(request)
    portal = portal_of(request)
    checked = _check_post(portal, request, fields)
    if isinstance(checked, Response):
        return checked
    decisions: Batcher[Post, Outcome] = request.state.decisions
    outcome = await decisions.submit(checked)
    if isinstance(outcome, Recorded):
        texts_key = (outcome.wave_id, outcome.locale)
        return _confirmation(
            portal, request, checked.token, texts_key, outcome.result, outcome.context
        )
    if isinstance(outcome, NoChoice):
        return _error(portal, request, outcome.locale, "no_choice", 400, back=True)
    if isinstance(outcome, LinkError):
        return _link_error(portal, request, outcome)
    return _error(portal, request, choose_locale(checked.grant.language), "error", 400)


def _check_post(portal: Portal, request: Request, fields: dict[str, list[str]]) -> Post | Response:
    token = request.path_params["token"]
    try:
        payload = portal.signer.verify(LinkUse.LANDING, token, None)
    except LinkError as exc:
        return _link_error(portal, request, exc)
    grant = portal.csrf.check(payload.token_id, _one(fields, "csrf"), _one(fields, "nonce"))
    if grant is None:
        fallback = page_locale(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        return _error(portal, request, fallback, "forbidden", 403)
    evidence = {
        "token_id": payload.token_id,
        "ip": client_ip(request, truncate=portal.settings.evidence_ip_truncate),
        "user_agent": user_agent(request),
        "path": f"/c/{payload.token_id}",
        "form_nonce": grant.nonce,
        "action": _one(fields, "action") or ACTION_SAVE,
    }
    return Post(token, payload, grant, fields, evidence)


def _confirmation(
    portal: Portal,
    request: Request,
    token: str,
    texts_key: tuple[int, str],
    result: DecisionResult,
    context: MessageContext,
) -> Response:
    wave_id, locale = texts_key
    t = texts(locale)
    recorded = [
        {"code": p.code, "title": p.title, "state": result.states[p.code].value}
        for p in context.purposes
        if p.code in result.states
    ]
    values = {
        "token": token,
        "recorded_at": t["recorded_at"].format(
            time=result.occurred_at.strftime("%Y-%m-%d %H:%M"), version=result.notice.version
        ),
    }

    def context_for(slots: Mapping[str, Any]) -> dict[str, Any]:
        lang = f"?lang={locale}"

        def link(route: str) -> str:
            return path_for(request, route, token=slots["token"]) + lang

        return {
            **base_context(portal, request, locale),
            "result": result,
            "recorded": recorded,
            "recorded_at": slots["recorded_at"],
            "change_again": t["change_again"].format(contact=portal.settings.controller_contact),
            "state_labels": {
                ConsentState.GIVEN.value: t["given"],
                ConsentState.REFUSED.value: t["refused"],
                ConsentState.WITHDRAWN.value: t["withdrawn"],
            },
            "links": {
                "change": link("landing"),
                "receipt": link("receipt"),
                "receipt_json": link("receipt_json"),
                "rights": link("rights"),
            },
        }

    # What the page shows besides the slots: the wave's texts, replay or not, the states.
    shape = (wave_id, locale, result.replay, tuple((r["code"], r["state"]) for r in recorded))
    return shell_page(portal, request, "done.html", shape, context_for, values)


# --- one-click opt-out ----------------------------------------------------------------


async def optout_page(request: Request) -> Response:
    return await run_sync(_optout_page, portal_of(request), request)


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
    fields = await read_form(request)
    return await run_sync(_optout, portal_of(request), request, fields)


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
            request_id=link.request_id,
            contact_id=link.contact.id,
            method=CollectionMethod.EMAIL if one_click else CollectionMethod.PORTAL,
            channel=link.channel,
            evidence={
                "token_id": link.payload.token_id,
                "ip": client_ip(request, truncate=portal.settings.evidence_ip_truncate),
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
    return await run_sync(_healthz, portal_of(request))


def _healthz(portal: Portal) -> Response:
    try:
        with portal.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.warning("health check: the database is unreachable")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
