"""The ceilings the portal and the operator API are measured against, served like
them (uvicorn, the same workers): a bare Starlette endpoint, one that inserts one row
into the same database, and one that runs one indexed SELECT (a contact by phone
hash), through the same engine set-up (sync SQLAlchemy, inline).

    uvicorn --factory bench.ceiling_apps:bare_app
    BENCH_DATABASE_URL=... uvicorn --factory bench.ceiling_apps:insert_app
    BENCH_DATABASE_URL=... uvicorn --factory bench.ceiling_apps:select_app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from reconsent.db import make_engine

METADATA = MetaData()
ROWS = Table(
    "bench_rows",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("payload", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


async def _hello(_request: Request) -> Response:
    return PlainTextResponse("ok")


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/", _hello, methods=["GET", "POST"])])


def create_table(url: str) -> None:
    """The ceiling's table, made before its workers start (not by each of them at once)."""
    engine = make_engine(url)
    try:
        METADATA.create_all(engine)
    finally:
        engine.dispose()


def insert_app() -> Starlette:
    """Served like the portal: the insert inline on the event loop, no pre-ping."""
    engine = make_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=False)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {}
        engine.dispose()

    async def one_insert(_request: Request) -> Response:
        with engine.begin() as conn:
            conn.execute(insert(ROWS).values(payload="x" * 32, created_at=datetime.now(UTC)))
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", one_insert, methods=["GET", "POST"])], lifespan=lifespan)


def select_app() -> Starlette:
    """One indexed SELECT per request (``/?h=<phone hash>``), inline, no pre-ping."""
    engine = make_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=False)
    query = text("SELECT id FROM contacts WHERE phone_hash = :h")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {}
        engine.dispose()

    async def one_select(request: Request) -> Response:
        with engine.connect() as conn:
            found = conn.execute(query, {"h": request.query_params.get("h", "")}).first()
        return PlainTextResponse("yes" if found else "no")

    return Starlette(routes=[Route("/", one_select, methods=["GET"])], lifespan=lifespan)
