"""Hot pages rendered once per wave and language, then filled in per request.

The landing page and the confirmation are the same HTML for everyone who
reads a wave's notice in one language, except for a few values: the greeting,
the form's nonce and CSRF token, the link's token in the page's URLs, the time
of the decision.  A *shell* is the page rendered by Jinja once with a marker
in place of each such value, cut at the markers; a request joins the cut
pieces with its values, HTML-escaped exactly as Jinja's autoescape would.
Rendering a 9 KB page through the template costs ~0.4 ms; filling a shell
~10 us (bench/portal_bench.py measures the pages end to end).

A shell lives in the portal's cache (``consent_portal.ttl_cache``: what its key
names, for at most a minute), so it changes when the texts it was made from
change.  Only values passed as slots vary per request: everything else in the
context must be named by the cache key.  ``build_shell`` refuses a template
that alters or drops a marker, so a slot can never be silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from consent_portal.state import Portal

__all__ = ["Shell", "build_shell", "shell_page"]

#: Record separators around a slot's name: escaping never produces them and texts never hold them.
_MARK = "\x1e{}\x1e"
_MARKS = re.compile("\x1e([a-z_]+)\x1e")

ContextFor = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Shell:
    """A rendered page cut at its slots: ``parts[0] slot[0] parts[1] ... parts[-1]``."""

    parts: tuple[str, ...]
    slots: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        pieces = [self.parts[0]]
        for name, part in zip(self.slots, self.parts[1:], strict=True):
            pieces.append(escape(values[name]))
            pieces.append(part)
        return "".join(pieces)


def build_shell(
    render: Callable[[dict[str, Any]], str], context_for: ContextFor, names: frozenset[str]
) -> Shell:
    """Render once with a marker per slot and cut the page at the markers.

    Raises ``ValueError`` when a slot's marker does not come out intact (the
    template filtered or dropped it) or a marker names no slot.
    """
    html = render(context_for({name: Markup(_MARK.format(name)) for name in names}))  # noqa: S704
    pieces = _MARKS.split(html)
    parts, slots = tuple(pieces[0::2]), tuple(pieces[1::2])
    if set(slots) != names or any("\x1e" in part for part in parts):
        raise ValueError(f"a page template altered or dropped its slots {sorted(names)}")
    return Shell(parts, slots)


class _ShellResponse(HTMLResponse):
    """An HTML page from a shell; like Starlette's template response, it reports the
    template and its context to a test client (the ``http.response.debug`` extension)."""

    def __init__(
        self,
        content: str,
        template: Any,
        debug_context: Callable[[], dict[str, Any]],
        status_code: int = 200,
    ) -> None:
        super().__init__(content, status_code)
        self.template = template
        self._debug_context = debug_context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "http.response.debug" in scope.get("extensions", {}):
            info = {"template": self.template, "context": self._debug_context()}
            await send({"type": "http.response.debug", "info": info})
        await super().__call__(scope, receive, send)


def shell_page(
    portal: Portal,
    request: Request,
    name: str,
    key: Hashable,
    context_for: ContextFor,
    values: Mapping[str, str],
) -> Response:
    """Template ``name`` for ``values``, from the shell cached under ``key``.

    ``context_for(slots)`` builds the full template context with ``slots[n]``
    where the value of slot ``n`` goes; ``key`` must name everything else the
    context depends on (the wave, the language, what varies in the page's shape).
    """
    template = portal.templates.get_template(name)
    root = request.scope.get("root_path", "")
    names = frozenset(values)

    def build() -> Shell:
        return build_shell(template.render, context_for, names)

    shell = portal.cache.get(("shell", name, root, key, names), build)

    def debug_context() -> dict[str, Any]:
        return {"request": request, **context_for(values)}

    return _ShellResponse(shell.fill(values), template, debug_context)
