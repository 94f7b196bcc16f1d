"""Security headers on every answer of a web app (the consent portal, the operator API),
and the proxies whose forwarded addresses uvicorn may believe.

Starlette answers some requests outside every user middleware: its server-error
layer (500) and its body limit (413). :class:`SecuredStarlette` wraps its whole
stack, so those carry the headers too (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HSTS", "SecuredStarlette", "SecurityHeadersMiddleware", "proxy_options"]

HSTS = "max-age=63072000; includeSubDomains"


def _never(_path: str) -> bool:
    return False


class SecurityHeadersMiddleware:
    """CSP, no referrer, no sniffing, no framing (and HSTS over https) on every HTTP
    answer; ``Cache-Control: no-store`` where ``no_store(path)`` says so."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool,
        csp: str,
        no_store: Callable[[str], bool] = _never,
    ) -> None:
        self.app = app
        self.https = https
        self.csp = csp
        self.no_store = no_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.csp
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                if self.https:
                    headers["Strict-Transport-Security"] = HSTS
                if self.no_store(path):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredStarlette(Starlette):
    """A Starlette app whose security headers wrap its whole stack, 413 and 500 included."""

    def __init__(
        self,
        *args: Any,
        https: bool,
        csp: str,
        no_store: Callable[[str], bool] = _never,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers_options: dict[str, Any] = {"https": https, "csp": csp, "no_store": no_store}

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack(), **self.headers_options)


def proxy_options(trusted: str) -> dict[str, Any]:
    """uvicorn's options for the proxies to trust (``portal_forwarded_allow_ips``).

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default, so anyone on the
    host could pick their address (and their rate-limit bucket). Here nothing is
    believed unless named: with proxies named, uvicorn puts the real client address
    in the request (from the header those proxies set), which the rate limits and the
    evidence then read.
    """
    trusted = ",".join(part.strip() for part in trusted.split(",") if part.strip())
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}
