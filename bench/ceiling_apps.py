"""The two ceilings the portal is measured against, served like the portal (uvicorn,
one worker): a bare Starlette endpoint, and one that inserts one row into the
same database through the same engine set-up (sync SQLAlchemy in the threadpool).

    uvicorn --factory bench.ceiling_apps:bare_app
    BENCH_DATABASE_URL=... uvicorn --factory bench.ceiling_apps:insert_app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
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


def insert_app() -> Starlette:
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        METADATA.create_all(engine)
        yield {}
        engine.dispose()

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(insert(ROWS).values(payload="x" * 32, created_at=datetime.now(UTC)))

    async def one_insert(_request: Request) -> Response:
        await run_in_threadpool(write)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", one_insert, methods=["GET", "POST"])], lifespan=lifespan)
