"""The consent portal's application factory.

``create_app(settings)`` is all a caller needs; the lifespan builds the shared
:class:`~consent_portal.state.Portal` (and the engine, unless one is given,
which it then disposes).  Nothing happens at import time.

Run it with uvicorn's factory mode::

    uvicorn --factory consent_portal.app:app_from_env
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from consent_portal import (
    code_pages,
    home_page,
    inbound_calls,
    pages,
    preference_pages,
    receipt_pages,
    renewal_pages,
    rights_pages,
    voice_webhooks,
)
from consent_portal import webhooks_sendgrid as sendgrid_hooks
from consent_portal import webhooks_twilio as twilio_hooks
from consent_portal.decision_posts import Outcome, Post, write_posts
from consent_portal.i18n import local_time
from consent_portal.rate_limits import RateLimitMiddleware
from consent_portal.security import CSP, CsrfTokens, no_store
from consent_portal.state import STATIC_DIR, TEMPLATES_DIR, Portal
from reconsent.kernel.batching import Batcher
from reconsent.kernel.clock import Clock, SystemClock
from reconsent.ledger.key_check import checked_address_key
from reconsent.settings import Settings, load_settings
from reconsent.web_security import SecuredStarlette
from reconsent.wiring import link_signer, portal_engine

#: Forms here are a handful of fields; anything bigger is refused with 413.
MAX_BODY_SIZE = 64 * 1024
#: At most this many decisions share one unit of work (``consent_portal.decision_posts``).
DECISION_BATCH = 64

__all__ = ["app_from_env", "create_app", "limit_threads"]


def limit_threads(count: int) -> None:
    """At most ``count`` handlers run at once in this event loop's threadpool (0: inline).

    A handler's database work and rendering is a unit of well under a
    millisecond of CPU (bench/portal_bench.py).  By default (``portal_threads =
    0``) it runs inline on the event loop: handing it to a worker thread costs
    more than the work itself (the thread hop and the GIL contention measured at
    ~1 ms per request), and a CPU-bound Python process serves more requests with
    one thread than with many.  Scale with worker processes (``reconsent portal
    --workers N``); ``portal_threads = N > 0`` runs handlers in a threadpool of
    N threads instead (for a database with slow round trips).
    """
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, count)


def create_app(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> Starlette:
    """The portal for ``settings``; ``clock`` and ``engine`` are injected by tests.

    A given engine belongs to the caller; otherwise the lifespan creates one
    from ``settings.database_url`` and disposes it on shutdown.
    """
    app_clock: Clock = clock or SystemClock()
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    templates.env.auto_reload = False  # packaged templates: no stat() per render
    templates.env.filters["local_time"] = local_time

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        owned = engine is None
        app_engine = portal_engine(settings) if engine is None else engine
        limit_threads(settings.portal_threads)
        keys = settings.link_signing_keys()
        portal = Portal(
            settings=settings,
            clock=app_clock,
            engine=app_engine,
            signer=link_signer(settings, app_clock),
            csrf=CsrfTokens(keys),
            templates=templates,
            address_key=checked_address_key(app_engine, settings, app_clock.now()),
        )

        async def write(posts: list[Post]) -> list[Outcome]:
            return await write_posts(portal, posts)

        try:
            yield {"portal": portal, "decisions": Batcher(write, max_batch=DECISION_BATCH)}
        finally:
            if owned:
                app_engine.dispose()

    routes = [
        Route("/c/{token}", pages.landing, methods=["GET"], name="landing"),
        Route("/c/{token}", pages.decide, methods=["POST"], name="decide"),
        Route("/c/{token}/rights", rights_pages.rights_page, methods=["GET"], name="rights"),
        Route(
            "/c/{token}/rights/{kind}",
            rights_pages.rights_action,
            methods=["POST"],
            name="rights_action",
        ),
        Route("/c/{token}/data.{fmt}", rights_pages.download, methods=["POST"], name="download"),
        Route("/c/{token}/receipt", receipt_pages.receipt_page, methods=["GET"], name="receipt"),
        Route(
            "/c/{token}/receipt.json",
            receipt_pages.receipt_json,
            methods=["GET"],
            name="receipt_json",
        ),
        Route("/c/{token}/renew", renewal_pages.renew, methods=["POST"], name="renew"),
        Route("/c/{token}/code", code_pages.link_code, methods=["POST"], name="link_code"),
        Route("/c/{token}/verify", code_pages.link_verify, methods=["POST"], name="link_verify"),
        Route("/me/code", code_pages.home_code, methods=["POST"], name="me_code"),
        Route("/me/verify", code_pages.home_verify, methods=["POST"], name="me_verify"),
        Route("/me", preference_pages.preferences, methods=["GET"], name="preferences"),
        Route("/me/choices", preference_pages.me_choices, methods=["POST"], name="me_choices"),
        Route("/me/rights/{kind}", preference_pages.me_rights, methods=["POST"], name="me_rights"),
        Route("/me/data.{fmt}", preference_pages.me_download, methods=["POST"], name="me_download"),
        Route("/notice/{version}", receipt_pages.notice_page, methods=["GET"], name="notice"),
        Route("/o/{token}", pages.optout_page, methods=["GET"], name="optout_page"),
        Route("/o/{token}", pages.optout, methods=["POST"], name="optout"),
        Route(voice_webhooks.VOICE_PATH, voice_webhooks.voice, methods=["POST"], name="voice"),
        Route(voice_webhooks.GATHER_PATH, voice_webhooks.gather, methods=["POST"], name="gather"),
        Route(inbound_calls.INBOUND_PATH, inbound_calls.inbound_call, methods=["POST"]),
        Route(inbound_calls.INBOUND_CHOICE_PATH, inbound_calls.inbound_choice, methods=["POST"]),
        Route(twilio_hooks.SMS_STATUS_PATH, twilio_hooks.sms_status, methods=["POST"]),
        Route(twilio_hooks.CALL_STATUS_PATH, twilio_hooks.call_status, methods=["POST"]),
        Route(twilio_hooks.SMS_INBOUND_PATH, twilio_hooks.sms_inbound, methods=["POST"]),
        Route(
            sendgrid_hooks.EVENTS_PATH,
            sendgrid_hooks.events,
            methods=["POST"],
            max_body_size=sendgrid_hooks.MAX_BATCH_BYTES,
        ),
        Route("/healthz", pages.healthz, methods=["GET"], name="healthz"),
        Route("/", home_page.home, methods=["GET"], name="home"),
        Route("/privacy", home_page.home, methods=["GET"], name="privacy_home"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    https = settings.portal_base_url.lower().startswith("https://")
    return SecuredStarlette(
        https=https,
        csp=CSP,
        no_store=no_store,
        routes=routes,
        middleware=[
            Middleware(
                RateLimitMiddleware,
                per_ip=settings.portal_rate_per_ip,
                per_token=settings.portal_rate_per_token,
            ),
        ],
        lifespan=lifespan,
        max_body_size=MAX_BODY_SIZE,
    )


def app_from_env() -> Starlette:
    """The portal configured from the environment (``RECONSENT_*`` and ``.env``)."""
    return create_app(load_settings())
