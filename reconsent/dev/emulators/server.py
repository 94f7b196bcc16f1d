"""Run an ASGI app on 127.0.0.1 in a background thread, for tests, the demo and benchmarks.

``running_server(app)`` binds a free port itself (so the URL is known before
the server starts), starts uvicorn in a daemon thread, waits until uvicorn
reports ``started`` (polling, with a deadline; no fixed sleep), yields the base
URL, and on exit asks uvicorn to stop and joins the thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["running_server"]


@contextmanager
def running_server(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    shutdown_timeout: int = 2,
    **options: Any,
) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields ``http://host:port`` (``options``: more
    ``uvicorn.Config`` arguments)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        ws="none",
        lifespan="auto",
        timeout_graceful_shutdown=shutdown_timeout,
        **options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=_serve, args=(server, sock), name=f"emulator-{bound_port}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread, startup_timeout)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=shutdown_timeout + 5)
        sock.close()


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn exits when the app's start-up fails; _wait_started reports it
        return


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the emulated server stopped during start-up")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the emulated server did not start within {timeout}s")
        thread.join(0.005)  # wakes as soon as the thread dies; else re-checks `started`
