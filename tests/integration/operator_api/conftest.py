"""Operator API fixtures: a seeded base, keys of each scope and a client on a fixed clock."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns once, at import (see the
    # portal's conftest); the client works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from operator_api.app import create_app
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel
from reconsent.operators.api_keys import create_key
from reconsent.settings import Settings
from tests.conftest import make_settings
from tests.support import factories

#: Tuesday 1 December 2026, 19:59 in Rome: a minute before the Italian code's 20:00.
AT_1959_ROME = datetime(2026, 12, 1, 18, 59, tzinfo=UTC)
#: Anna consented to calls, SMS and e-mail a month ago; Bruno only to e-mail.
ANNA, BRUNO = "+393331110001", "+393331110002"


@dataclass(frozen=True)
class Keys:
    read: str
    write: str
    export: str
    all: str

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api_clock() -> FixedClock:
    return FixedClock(AT_1959_ROME)


@pytest.fixture
def api_settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url, api_key_cache_seconds=0, api_threads=2)


@pytest.fixture
def seeded(engine: Engine, api_clock: FixedClock) -> dict[str, int]:
    now = api_clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        anna = factories.add_contact(s, now, "anna", email="anna@example.it", phone=ANNA)
        factories.consent_to_channels(s, now, anna, purposes, now - timedelta(days=30))
        bruno = factories.add_contact(s, now, "bruno", email="bruno@example.it", phone=BRUNO)
        factories.consent_to_channels(
            s, now, bruno, purposes, now - timedelta(days=30), channels=(Channel.EMAIL,)
        )
        return {"anna": anna.id, "bruno": bruno.id}


@pytest.fixture
def keys(engine: Engine, api_clock: FixedClock) -> Keys:
    now = api_clock.now()
    with unit_of_work(engine) as s:
        made = [
            create_key(s, name, scopes, now).key
            for name, scopes in (
                ("dialler", "contactability:read"),
                ("desk", "consents:write"),
                ("crm", "export:read"),
                ("admin", "contactability:read,consents:write,export:read"),
            )
        ]
    return Keys(*made)


@pytest.fixture
def client(
    api_settings: Settings, engine: Engine, api_clock: FixedClock, seeded: dict[str, int]
) -> Iterator[TestClient]:
    app = create_app(api_settings, clock=api_clock, engine=engine)
    with TestClient(app, base_url="http://api.test") as test_client:
        yield test_client
