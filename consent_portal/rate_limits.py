"""Per-client-address and per-link rate limits: in-memory token buckets, one per key.

The bucket is the kernel's (:class:`reconsent.kernel.rules.token_bucket.TokenBucket`).

Only the pages people open are limited (``/c/``, ``/o/``, ``/notice/``, the
preference centre and its code forms under ``/me``); the
stylesheet, the health check and the signed provider webhooks are not.  Over
the limit a request gets a friendly, localized 429 page with ``Retry-After``
and nothing behind it runs.  The buckets live in the worker's memory (one
uvicorn worker: exact; several: per worker), bounded by ``max_keys``
(least recently used keys are forgotten first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from consent_portal.i18n import page_locale
from consent_portal.page_render import error_page
from reconsent.kernel.rules.token_bucket import TokenBucket

#: Paths a person opens: limited per client address; the token ones per link too.
LIMITED_PREFIXES = ("/c/", "/o/", "/notice/", "/me")
TOKEN_PREFIXES = ("/c/", "/o/")
MAX_KEYS = 100_000

__all__ = ["RateLimitMiddleware", "RateLimiter"]


class RateLimiter:
    """Token buckets of ``per_minute`` tokens, refilled continuously, one per key."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def hit(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else seconds until one is free."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.capacity)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_take(self._clock())


def _token_of(path: str) -> str | None:
    for prefix in TOKEN_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :].split("/", 1)[0] or None
    return None


def too_many(scope: Scope, retry_after: float) -> Response:
    """The friendly 429 page (plain text when the portal's state is not there)."""
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    request = Request(scope)
    portal = scope.get("state", {}).get("portal")
    if portal is None:
        return PlainTextResponse("too many requests", status_code=429, headers=headers)
    locale = page_locale(request.query_params.get("lang"), request.headers.get("accept-language"))
    return error_page(portal, request, locale, "rate_limited", 429, headers=headers)


class RateLimitMiddleware:
    """429 before the app when a client address or a link goes over its limit.

    ``per_ip`` / ``per_token`` are requests per minute (0: no limit).  The
    client address is the ASGI peer (uvicorn resolves ``X-Forwarded-For``
    only from the proxies it trusts, ``--forwarded-allow-ips``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_ip: int,
        per_token: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.by_ip = RateLimiter(per_ip, clock=clock) if per_ip > 0 else None
        self.by_token = RateLimiter(per_token, clock=clock) if per_token > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        wait = 0.0
        if self.by_ip is not None:
            client = scope.get("client")
            wait = self.by_ip.hit(client[0] if client else "-")
        token = _token_of(path)
        if not wait and token is not None and self.by_token is not None:
            wait = self.by_token.hit(token)
        if wait:
            await too_many(scope, wait)(scope, receive, send)
            return
        await self.app(scope, receive, send)
