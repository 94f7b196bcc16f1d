"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconsent.settings import Settings
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
