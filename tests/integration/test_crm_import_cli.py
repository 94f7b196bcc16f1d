"""`reconsent contacts import` on CRM files, as a user runs it: options, reports, exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Contact
from reconsent.db import make_engine, unit_of_work
from tests.integration.test_cli import run

CRM = Path(__file__).resolve().parents[2] / "examples" / "crm"


@pytest.fixture
def migrated(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    assert run(["db", "upgrade"], cli_env, tmp_path).returncode == 0
    return cli_env


def contacts(env: dict[str, str]) -> dict[str, tuple[str | None, str | None, str, str]]:
    engine = make_engine(env["RECONSENT_DATABASE_URL"])
    try:
        with unit_of_work(engine) as session:
            return {
                c.external_id: (c.given_name, c.phone, c.locale, c.timezone)
                for c in session.scalars(select(Contact))
            }
    finally:
        engine.dispose()


def test_row_errors_name_line_and_field_never_the_data(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "Id,First,Last,Mail,Tel,Lang\n"
        "1,Giulia,Rossi,giulia.rossi@example.it,+39 333 123 4567,it\n"
        # the file's columns shifted: the e-mail lands in Lang, the name in Tel
        "2,Marco,Bianchi,+39 347 765 4321,Bianchi,marco.bianchi@example.it\n"
        "3,Sara,Greco,sara.greco@example,+39 055 12,it\n"
    )
    columns = [
        "external_id=Id", "given_name=First", "family_name=Last", "email=Mail",
        "phone=Tel", "locale=Lang",
    ]  # fmt: skip
    options = [f"--column={c}" for c in columns]
    result = run(
        ["contacts", "import", str(path), *options, "--default-timezone", "Europe/Rome"],
        migrated,
        tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "created 1" in result.stdout
    output = result.stdout + result.stderr
    assert "line 3: " in output and "line 4: " in output
    for data in (
        "marco", "Marco", "Bianchi", "347", "765 4321", "example.it", "sara.greco", "Greco",
        "055 12", "Sara",
    ):  # fmt: skip
        assert data not in output, data
    assert contacts(migrated)["1"] == ("Giulia", "+393331234567", "it", "Europe/Rome")


def test_semicolon_cp1252_without_locale_or_timezone_columns(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "elenco.csv"
    path.write_bytes(
        "Codice;Nome;Cognome;Email;Cellulare\r\n"
        "A-1;Niccolò;D'Amico;n.damico@example.it;+39 333 123 4567\r\n"
        "A-2;Zoë;Müller;zoe@example.de;\r\n".encode("cp1252")
    )
    columns = [
        'external_id="Codice"', "given_name=Nome", "family_name=Cognome", "email=Email",
        "phone=Cellulare",
    ]  # fmt: skip
    args = ["contacts", "import", str(path), "--encoding", "cp1252", "--default-locale", "it"]
    args += [f"--column={c}" for c in columns]
    args += ["--default-timezone", "America/New_York", "--timezone-from-phone", "--json"]
    result = run(args, migrated, tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["created"], report["ignored_columns"], report["stopped"]) == (2, [], None)
    assert contacts(migrated) == {
        # +39: Europe/Rome, whatever the default; no phone: the default
        "A-1": ("Niccolò", "+393331234567", "it", "Europe/Rome"),
        "A-2": ("Zoë", None, "it", "America/New_York"),
    }
    assert result.stderr == ""  # no progress bar unless asked (stderr is no terminal)


def test_fatal_error_prints_the_report_then_one_line_naming_the_line(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        "external_id,given_name,family_name,email,phone,locale,timezone\n"
        "A-1,Anna,Rossi,,,it,Europe/Rome\n"
        "A-2,Niccolò,D'Amico,,,it,Europe/Rome\n".encode("cp1252")
    )
    result = run(["contacts", "import", str(path)], migrated, tmp_path)
    assert result.returncode == 2
    assert "read 1, created 1" in result.stdout
    assert "line 3 is not valid utf-8" in result.stderr and "--encoding" in result.stderr
    assert "Nicc" not in result.stderr and "D'Amico" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert set(contacts(migrated)) == {"A-1"}


def test_hubspot_example_through_the_cli_with_a_progress_bar(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    args = ["contacts", "import", str(CRM / "hubspot-contacts.csv")]
    args += ["--map", str(CRM / "hubspot-mapping.toml"), "--progress"]
    result = run(args, migrated, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created 4" in result.stdout and "suppressions 1" in result.stdout
    assert "ignored columns (not imported): Create Date, Lifecycle Stage" in result.stdout
    assert "importing hubspot-contacts.csv" in result.stderr
    assert "Giulia" not in result.stdout + result.stderr


def test_unknown_mapping_field_is_one_line(migrated: dict[str, str], tmp_path: Path) -> None:
    args = ["contacts", "import", str(CRM / "hubspot-contacts.csv"), "--column", "mail=Email"]
    result = run(args, migrated, tmp_path)
    assert result.returncode == 2
    assert "unknown field(s) mail for a contacts import" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
