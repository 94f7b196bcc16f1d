"""The one wiring place: settings -> engine, channel adapters, link signer, dispatcher.

Built on demand and cached per process and per settings, so Prefect tasks in
one worker share an engine instead of opening one per task run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from channels.base import ChannelAdapter
from reconsent.db import make_engine
from reconsent.dispatch import Dispatcher
from reconsent.settings import Settings, load_settings
from reconsent.vocab import Channel


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    adapters: dict[Channel, ChannelAdapter]

    @property
    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.engine, self.settings, self.adapters)


_lock = threading.Lock()
_cache: dict[str, Runtime] = {}


def build_runtime(settings: Settings) -> Runtime:
    from channels.wiring import build_adapters

    return Runtime(
        settings=settings,
        engine=make_engine(settings.database_url),
        adapters=build_adapters(settings),
    )


def get_runtime(settings: Settings | None = None) -> Runtime:
    """The process-wide runtime for these settings (default: from the environment)."""
    settings = settings or load_settings()
    key = settings.model_dump_json()
    with _lock:
        runtime = _cache.get(key)
        if runtime is None:
            runtime = _cache[key] = build_runtime(settings)
        return runtime


def reset_runtimes() -> None:
    """Dispose cached engines (tests, and the demo between phases)."""
    with _lock:
        for runtime in _cache.values():
            runtime.engine.dispose()
        _cache.clear()
