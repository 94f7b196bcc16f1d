"""Who is calling: the API key of a request, its scopes, and the error answers.

``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Missing, unknown or
revoked: 401 with ``WWW-Authenticate: Bearer``; a key without the endpoint's
scope: 403. A checked key is trusted for ``api_key_cache_seconds`` (a revoked key
is refused within that time); the cache holds SHA-256 digests, never a key.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse

from reconsent.operators.api_keys import Caller, authenticate

__all__ = ["KeyCache", "presented_key", "problem"]

PROBLEM_TYPE = "application/problem+json"
#: Most distinct keys one process remembers (a fleet of diallers uses a handful).
CACHE_SIZE = 1024


def problem(status: int, title: str, detail: str | None = None, **headers: str) -> JSONResponse:
    body: dict[str, Any] = {"title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _unauthorized(detail: str) -> JSONResponse:
    return problem(401, "unauthorized", detail, **{"WWW-Authenticate": 'Bearer realm="reconsent"'})


class KeyCache:
    """Keys checked recently, by the SHA-256 of the key presented."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: int) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._known: dict[str, tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def caller(self, presented: str) -> Caller | None:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._known.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        with self._sessions() as session:
            found = authenticate(session, presented)
        with self._lock:
            if found is None or self._ttl == 0:
                self._known.pop(digest, None)
            else:
                if len(self._known) >= CACHE_SIZE:
                    self._known.clear()
                self._known[digest] = (found, now + self._ttl)
        return found

    def require(self, request: Request, scope: str) -> Caller | JSONResponse:
        """The caller with ``scope``, else the answer to give (401 or 403)."""
        presented = presented_key(request)
        if presented is None:
            return _unauthorized("an API key is required (Authorization: Bearer <key>)")
        found = self.caller(presented)
        if found is None:
            return _unauthorized("the API key is unknown or revoked")
        if scope not in found.scopes:
            return problem(403, "forbidden", f"this key lacks the scope {scope}")
        return found
