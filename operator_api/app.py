"""The operator API's application factory (``reconsent api``).

``create_app(settings)`` is all a caller needs; the lifespan builds the shared
:class:`~operator_api.api_state.Api` (and the engine, unless one is given, which
it then disposes). Nothing happens at import time. Run it with uvicorn's
factory mode::

    uvicorn --factory operator_api.app:app_from_env
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import CapacityLimiter
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from operator_api import capture_routes, check_routes
from operator_api.access import KeyCache
from operator_api.api_state import Api, check_options
from operator_api.endpoints import API_PREFIX, Endpoint
from operator_api.openapi import docs_page, openapi_document
from reconsent import __version__
from reconsent.db import session_factory
from reconsent.kernel.batching import Batcher
from reconsent.kernel.clock import Clock, SystemClock
from reconsent.operators.capture_batch import Captured, ConsentCapture
from reconsent.settings import Settings, load_settings
from reconsent.web_security import SecuredStarlette
from reconsent.wiring import api_engine, api_read_engine

__all__ = ["ENDPOINTS", "app_from_env", "create_app"]

#: A batch of 10,000 contacts by e-mail is about 0.5 MB; anything bigger is refused (413).
MAX_BODY_SIZE = 2 * 1024 * 1024
ENDPOINTS: list[Endpoint] = [*check_routes.ENDPOINTS, *capture_routes.ENDPOINTS]
#: The most consent posts written in one unit of work (as the portal's decisions).
CAPTURE_BATCH = 64
#: The JSON answers load nothing; the docs page only its own inline style.
CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def _always(_path: str) -> bool:
    """Answers name people's consent states: never kept in a cache."""
    return True


def create_app(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> Starlette:
    """The API for ``settings``; ``clock`` and ``engine`` are injected by tests."""
    app_clock: Clock = clock or SystemClock()
    document = openapi_document(ENDPOINTS, __version__)
    page = docs_page(document)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        owned = engine is None
        app_engine = api_engine(settings) if engine is None else engine
        read_engine = api_read_engine(settings) if engine is None else None
        sessions = session_factory(app_engine)
        reads = read_engine or app_engine.execution_options(isolation_level="AUTOCOMMIT")
        threads = settings.api_threads
        api = Api(
            settings=settings,
            clock=app_clock,
            sessions=sessions,
            reads=reads,
            keys=KeyCache(sessions, settings.api_key_cache_seconds),
            options=check_options(settings),
            limiter=CapacityLimiter(threads) if threads else None,
        )

        async def write(posts: list[ConsentCapture]) -> list[Captured | Exception]:
            return await api.run(lambda: capture_routes.write_consents(api, posts))

        api.captures = Batcher(write, max_batch=CAPTURE_BATCH)
        try:
            yield {"api": api}
        finally:
            if owned:
                app_engine.dispose()
            if read_engine is not None:
                read_engine.dispose()

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    async def docs(_request: Request) -> Response:
        return HTMLResponse(page)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route(e.full_path, e.handler, methods=[e.method], name=e.handler.__name__)
        for e in ENDPOINTS
    ]
    routes += [
        Route(f"{API_PREFIX}/openapi.json", openapi, methods=["GET"]),
        Route(f"{API_PREFIX}/docs", docs, methods=["GET"]),
        Route(f"{API_PREFIX}/health", health, methods=["GET"]),
    ]
    https = settings.portal_base_url.lower().startswith("https://")
    return SecuredStarlette(
        https=https,
        csp=CSP,
        no_store=_always,
        routes=routes,
        lifespan=lifespan,
        max_body_size=MAX_BODY_SIZE,
    )


def app_from_env() -> Starlette:
    """The API configured from the environment (``RECONSENT_*`` and ``.env``)."""
    return create_app(load_settings())
