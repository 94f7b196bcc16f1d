"""Keys and the data directory (issue 17): a do-not-contact import must never silently
do nothing because another working directory generated another key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconsent.settings import Settings
from tests.integration.test_cli import run

SUPPRESSIONS = (
    "address,channel,reason,source\n"
    "rossi@example.it,all,objection,crm\n"
    "+393331234567,sms,stop,crm\n"
)


def _without_keys(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in cli_env.items()
        if k not in ("RECONSENT_SIGNING_KEYS", "RECONSENT_ADDRESS_HASH_KEY")
    }


def test_without_keys_a_command_that_hashes_or_signs_refuses_in_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = _without_keys(cli_env)
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    (tmp_path / "s.csv").write_text(SUPPRESSIONS)
    refused = run(["suppressions", "import", str(tmp_path / "s.csv")], env, tmp_path)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "RECONSENT_ADDRESS_HASH_KEY is not set" in lines[0]
    assert "RECONSENT_DEV_KEYS=true" in lines[0]
    assert not (tmp_path / "var" / "address-hash.key").exists()  # nothing generated
    with pytest.raises(Exception, match="RECONSENT_SIGNING_KEYS is not set"):
        Settings(_env_file=None, data_dir=tmp_path / "var").link_signing_keys()


def test_the_data_dir_is_one_absolute_place_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONSENT_DATA_DIR", raising=False)
    places = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        places.append(Settings(_env_file=None).data_dir)
    assert places[0] == places[1] and places[0].is_absolute()
    assert places[0].parts[-2:] == ("var", "reconsent")
    monkeypatch.chdir(tmp_path / "a")
    relative = Settings(_env_file=None, data_dir=Path("keys"))
    assert relative.data_dir == (tmp_path / "a" / "keys").resolve()


def test_an_import_with_another_key_is_refused_and_imports_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The issue's case: development keys, the same file imported from another working
    directory with its own data directory (its own generated key)."""
    env = {**_without_keys(cli_env), "RECONSENT_DEV_KEYS": "true"}
    first = {**env, "RECONSENT_DATA_DIR": str(tmp_path / "one")}
    other = {**env, "RECONSENT_DATA_DIR": str(tmp_path / "two")}
    assert run(["db", "upgrade"], first, tmp_path).returncode == 0
    (tmp_path / "s.csv").write_text(SUPPRESSIONS)
    command = ["suppressions", "import", str(tmp_path / "s.csv"), "--json"]
    done = run(command, first, tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == 2
    refused = run(command, other, tmp_path)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "not the key this database's address hashes were made" in lines[0]
    again = run(command, first, tmp_path)  # the right key: nothing new, nothing lost
    assert json.loads(again.stdout)["created"] == 0
    assert json.loads(again.stdout)["unchanged"] == 2
