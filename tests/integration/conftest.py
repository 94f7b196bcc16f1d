"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconsent.settings import Settings
from reconsent.wiring import reset_runtimes
from tests.conftest import make_settings
from tests.support.checkout import with_checkout


@pytest.fixture
def cli_env(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONSENT_")}
    env.update(
        {
            "RECONSENT_DATABASE_URL": sqlite_url,
            "RECONSENT_DATA_DIR": str(tmp_path / "var"),
            "RECONSENT_SIGNING_KEYS": "cli-key",
            "RECONSENT_ADDRESS_HASH_KEY": "cli-address-key",
            "RECONSENT_CRM_WEBHOOK_SECRET_KEY": "cli-crm-webhook-key",
            "RECONSENT_EVIDENCE_KEY": "cli-evidence-key",
            "COLUMNS": "200",
        }
    )
    return with_checkout(env)


@pytest.fixture
def dsettings(tmp_path: Path, db_url: str) -> Settings:
    """The dispatch tests' settings (the suite's defaults)."""
    return make_settings(tmp_path, db_url)


@pytest.fixture
def flow_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    outbox = tmp_path / "outbox"
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_OUTBOX_DIR": str(outbox),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "flow-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_PORTAL_BASE_URL": "http://portal.test",
    }.items():
        monkeypatch.setenv(name, value)
    yield outbox
    reset_runtimes()
