"""A CRM's webhook receiver on 127.0.0.1 for the tests: a small threaded HTTP server.

It records every request (headers and body) and answers what the test says:
``status`` (200, 503 ...) with an optional ``Retry-After``. ``start()`` may come
after the sender's first tries (the port is reserved, nothing listens: the
sender meets "connection refused"); ``stop()`` takes it down again.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class CrmReceiver:
    status: int = 200
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.port:
            with socket.socket() as probe:  # a free port; nothing listens on it yet
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/crm/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                status = receiver.status
                if status < 300:
                    with receiver._lock:
                        receiver.received.append(
                            Received({k.lower(): v for k, v in self.headers.items()}, body)
                        )
                self.send_response(status)
                if receiver.retry_after is not None and status >= 300:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
