"""The CLI as a user runs it: a subprocess, real files, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconsent.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_every_command_has_help(cli_env: dict[str, str], tmp_path: Path) -> None:
    for args in (
        ["--help"],
        ["wave", "--help"],
        ["wave", "tick", "--help"],
        ["contacts", "import", "--help"],
        ["consents", "import", "--help"],
        ["db", "upgrade", "--help"],
        ["proof", "--help"],
        ["portal", "--help"],
        ["demo", "--help"],
        ["catalog", "load", "--help"],
    ):
        result = run(args, cli_env, tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage" in result.stdout


def test_user_mistakes_are_one_line_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('name = "x"\npurposes = []\n')
    sms_basis = tmp_path / "sms-basis.toml"
    sms_basis.write_text(
        (EXAMPLES / "wave.toml").read_text().replace('email = "soft_spam"', 'sms = "soft spam"')
    )
    cases = {
        # no basis can be declared for SMS or calls: refused at create, in one line
        ("wave", "create", str(sms_basis)): "no basis can be declared for sms",
        ("contacts", "import", str(tmp_path / "missing.csv")): "no such file",
        ("wave", "status", "999"): "wave 999 does not exist",
        ("wave", "create", str(bad_toml)): "purposes",
        ("proof", "nobody"): "no contact with external id",
    }
    for args, expected in cases.items():
        result = run(list(args), cli_env, tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_unmigrated_database_says_what_to_do(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "RECONSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = run(["wave", "list"], env, tmp_path)
    assert result.returncode == 2 and "reconsent db upgrade" in result.stderr


def test_import_create_plan_status(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["db", "upgrade"], cli_env, tmp_path).returncode == 0
    assert (
        run(["catalog", "load", str(EXAMPLES / "catalog.toml")], cli_env, tmp_path).returncode == 0
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone,customer_since\n"
        "A1,Giulia,Rossi,giulia@example.it,+39 333 123 4567,it,Europe/Rome,2025-02-11\n"
        "A2,Bad,Row,not-an-email,,it,Europe/Rome,\n"
        "A3,Tom,Smith,tom@example.com,07911 123456,en,Europe/London,2024-10-01\n"
        "A4,Ada,Byron,ada@example.com,07911 123457,en,Europe/London,\n"
        # Giulia again, from another CRM: one person (the address is compared normalised).
        "B9,Giulia,Rossi,Giulia@Example.it,,it,Europe/Rome,2025-02-11\n"
    )
    result = run(["contacts", "import", str(contacts)], cli_env, tmp_path)
    assert result.returncode == 1  # some rows were rejected
    assert "line 3" in result.stderr and "email" in result.stderr
    assert "not-an-email" not in result.stderr  # personal data is not echoed
    again = run(["contacts", "import", str(contacts), "--json"], cli_env, tmp_path)
    report = json.loads(again.stdout)
    assert report["created"] == 0 and report["unchanged"] == 4
    created = run(["wave", "create", str(EXAMPLES / "demo-wave.toml")], cli_env, tmp_path)
    assert created.returncode == 0, created.stderr
    wave_id = created.stdout.strip()
    assert wave_id.isdigit()
    plan = json.loads(run(["wave", "plan", wave_id, "--json"], cli_env, tmp_path).stdout)
    # No consent history: the two customers are reachable only by e-mail (soft spam); the
    # third is no customer, and SMS and calls need a consent nobody gave.
    assert plan["eligible"] == {"declared": 2} and plan["reachable"] == {"email": 2}
    assert plan["excluded"] == {"no_lawful_basis": 1, "duplicate_person": 1}
    # Nobody consulted the RPO: no call to the Italian number, whatever else.
    assert plan["channel_skips"] == {
        "sms": {"no_channel_consent": 2},
        "ivr": {"no_channel_consent": 1, "rpo_not_consulted": 1},
    }
    status = json.loads(run(["wave", "status", wave_id, "--json"], cli_env, tmp_path).stdout)
    assert status["status"] == "draft" and status["requests"]["active"] == 0
