"""Shared fixtures: databases (SQLite and a real PostgreSQL), settings, a fixed clock.

Every test that takes ``engine`` runs twice, on SQLite and on PostgreSQL, each
on a fresh database cloned from one migrated template (cheap: a file copy or
``CREATE DATABASE ... TEMPLATE``).  Tests are marked by folder: tests/unit ->
unit, tests/integration -> integration, tests/browser -> browser.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from reconsent.db import make_engine, upgrade
from reconsent.db_roles import grant_runtime_role
from reconsent.kernel.clock import FixedClock
from reconsent.settings import ChannelMode, Settings
from tests.support.postgres import RUNTIME_ROLE, PostgresServer, as_runtime, running_postgres

#: A Tuesday, 10:00 UTC (11:00 in Rome): inside every calling window.
FIXED_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PG_TEMPLATE = "reconsent_template"
#: The Twilio account the test settings name (voice webhooks check it).
TWILIO_ACCOUNT = "AC" + "0" * 32


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in ("unit", "integration", "browser"):
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RECONSENT_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("RECONSENT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The server, with a template database migrated by its owner (the superuser) and
    the runtime role granted there: every PostgreSQL test database is a copy, and the
    suite connects as the runtime role, as the product runs (reconsent/db_roles.py)."""
    with running_postgres() as server:
        upgrade_url = server.url(PG_TEMPLATE)
        with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_TEMPLATE}")
        upgrade(upgrade_url)
        owner = make_engine(upgrade_url)
        try:
            grant_runtime_role(owner, RUNTIME_ROLE)
        finally:
            owner.dispose()
        yield server


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the whole session (it costs ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    home = tmp_path_factory.mktemp("prefect-home")
    saved = {k: os.environ.get(k) for k in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED")}
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _fresh_pg(server: PostgresServer) -> str:
    """A fresh copy of the template, reached as the runtime role (trust auth, loopback)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE}")
    return as_runtime(server.url(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "reconsent.db"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return _fresh_pg(server)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """For tests where the database flavour does not matter (CLI, portal pages)."""
    target = tmp_path / "reconsent.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return _fresh_pg(pg_server)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIXED_NOW)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    # Raw input, as from the environment: Settings validates and coerces each value.
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path / "var",
        "signing_keys": ["test-key-old", "test-key-new"],
        "address_hash_key": "test-address-key",
        "crm_webhook_secret_key": "test-crm-webhook-key",
        "evidence_key": "test-evidence-key",
        "portal_base_url": "http://portal.test",
        "channel_mode": ChannelMode.OUTBOX,
        "twilio_auth_token": "test-twilio-token",
        "twilio_account_sid": TWILIO_ACCOUNT,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
