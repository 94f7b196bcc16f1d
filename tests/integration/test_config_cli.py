"""``reconsent config``: the effective settings, never a password."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import run


def test_config_never_prints_the_database_password(cli_env: dict[str, str], tmp_path: Path) -> None:
    url = "postgresql+psycopg://app:s3cret-pw@db.internal:5432/reconsent"
    env = {**cli_env, "RECONSENT_DATABASE_URL": url, "RECONSENT_CONTROLLER_PHONE": "+39 02 123"}

    table = run(["config"], env, tmp_path)
    as_json = run(["config", "--json"], env, tmp_path)

    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr
    assert "s3cret-pw" not in table.stdout + table.stderr + as_json.stdout + as_json.stderr
    described = json.loads(as_json.stdout)
    assert described["database_url"] == "postgresql+psycopg://app:***@db.internal:5432/reconsent"
    assert described["controller_phone"] == "+39 02 123"
    assert "RECONSENT_CONTROLLER_ADDRESS" in table.stdout
