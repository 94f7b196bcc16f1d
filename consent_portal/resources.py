"""The portal process's shared resources: its database engine and where handlers run.

A handler's database work and rendering is a unit of well under a
millisecond of CPU (bench/portal_bench.py).  By default (``portal_threads =
0``) it runs inline on the event loop: handing it to a worker thread costs
more than the work itself (the thread hop and the GIL contention measured at
~1 ms per request), and a CPU-bound Python process serves more requests with
one thread than with many.  Scale with worker processes (``reconsent portal
--workers N``).  With ``portal_threads = N > 0`` handlers run in a threadpool
of N threads instead (for a database with slow round trips), and the pool of
connections is as large as the threadpool (plus a little), so a busy portal
reuses its connections instead of opening one per request beyond the pool.
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
    threads = max(1, settings.portal_threads)
    # No ping before each checkout (a round trip per request on PostgreSQL): a connection
    # the server dropped fails one request, and SQLAlchemy then replaces the whole pool.
    return make_engine(
        url, pool_size=threads, max_overflow=max(1, threads // 2), pool_pre_ping=False
    )


def limit_threads(count: int) -> None:
    """At most ``count`` handlers run at once in this event loop's threadpool (0: inline)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, count)
