"""The portal process's shared resources: its database engine and its worker threads.

Handlers run their database work and rendering in the threadpool.  The pool
of connections is as large as the threadpool (plus a little), so a busy
portal reuses its connections instead of opening and closing one per request
beyond the pool (each new SQLite connection re-reads the schema and runs its
pragmas; each new PostgreSQL connection costs milliseconds); and a few
threads serve a CPU-bound Python process better than many (less switching).
"""

from __future__ import annotations

import anyio.to_thread
from sqlalchemy import Engine

from reconsent.db import make_engine
from reconsent.settings import Settings

__all__ = ["limit_threads", "portal_engine"]


def portal_engine(settings: Settings) -> Engine:
    """The engine of one portal process, its pool sized to ``portal_threads``."""
    url = settings.database_url
    if ":memory:" in url:  # one shared in-memory database: SQLAlchemy's own pool
        return make_engine(url)
    threads = settings.portal_threads
    return make_engine(url, pool_size=threads, max_overflow=max(1, threads // 2))


def limit_threads(count: int) -> None:
    """At most ``count`` handlers run at once in this event loop's threadpool."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = count
