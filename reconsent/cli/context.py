"""What every command shares: settings, the engine, output helpers, error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from reconsent.db import unit_of_work
from reconsent.kernel.clock import ensure_utc
from reconsent.kernel.errors import ConfigError
from reconsent.settings import Settings, load_settings
from reconsent.wiring import command_engine

# Wide enough for tables when output goes to a file or a pipe (rich defaults to 80).
console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def shown(text: str) -> str:
    """Text from the database or a file, safe to print: Rich markup escaped, control
    characters (terminal escapes) shown as ``\\x1b``."""
    visible = "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode() for c in text
    )
    return escape(visible)


def settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:  # pydantic ValidationError: name the variable
        raise ConfigError(f"invalid settings: {exc}") from None


def engine(cfg: Settings | None = None) -> Engine:
    return command_engine(cfg or settings())


@contextmanager
def session(cfg: Settings | None = None) -> Iterator[Session]:
    eng = engine(cfg)
    try:
        with unit_of_work(eng) as s:
            yield s
    finally:
        eng.dispose()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ConfigError(
            f"invalid time {value!r}: use ISO 8601, e.g. 2026-12-01T10:00:00Z"
        ) from None


def serve(factory: str, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve the ASGI app ``factory`` (``module:function``) with uvicorn; ``options``:
    more uvicorn arguments. No proxy's X-Forwarded-For is believed unless the options
    name one (uvicorn's own default would believe 127.0.0.1)."""
    import uvicorn

    from reconsent.web_security import proxy_options

    settings()  # fail fast on bad settings
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        **{**proxy_options(""), **options},
    )
