"""The CLI as a user runs it: a subprocess, real files, one-line errors, exit codes."""

from __future__ import annotations

import json
import re
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


def _named(wave_file: str, name: str) -> str:
    """The wave file with another name (``name`` as TOML basic-string text)."""
    return re.sub(r"(?m)^name = .*$", lambda _m: f'name = "{name}"', wave_file)


def _link_lifetime(wave_file: str, lifetime: str) -> str:
    """The wave file with another link lifetime."""
    return re.sub(
        r"(?m)^link_lifetime = .*$", lambda _m: f'link_lifetime = "{lifetime}"', wave_file
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
    zero_link = tmp_path / "zero-link.toml"
    zero_link.write_text(_link_lifetime((EXAMPLES / "wave.toml").read_text(), "0s"))
    century_link = tmp_path / "century-link.toml"
    century_link.write_text(_link_lifetime((EXAMPLES / "wave.toml").read_text(), "36500d"))
    escapes = tmp_path / "escapes.toml"
    escapes.write_text(_named((EXAMPLES / "wave.toml").read_text(), "red \\u001b[31m alert"))

    cases = {
        # a tick of a wave that does not exist: one line, before any Prefect server starts
        ("wave", "tick", "999"): "wave 999 does not exist",
        ("wave", "create", str(zero_link)): "link_lifetime",
        ("wave", "create", str(century_link)): "out of range: from 1h to 90d",
        ("wave", "create", str(escapes)): "must not contain control characters",
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


def test_deploy_on_a_database_without_schema_says_what_to_point_at(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "RECONSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = run(["deploy", "--no-start-server"], env, tmp_path)
    assert result.returncode == 2, result.stdout
    assert "has no schema" in result.stderr and "RECONSENT_DATABASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_wave_names_are_printed_as_written_never_as_markup(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    marked = tmp_path / "marked.toml"
    marked.write_text(_named((EXAMPLES / "wave.toml").read_text(), "[red]Spring[/red] wave"))

    assert (
        run(["catalog", "load", str(EXAMPLES / "catalog.toml")], cli_env, tmp_path).returncode == 0
    )
    created = run(["wave", "create", str(marked)], cli_env, tmp_path)
    assert created.returncode == 0, created.stderr
    listed = run(["wave", "list"], cli_env, tmp_path)
    assert "[red]Spring[/red] wave" in listed.stdout
    status = run(["wave", "status", created.stdout.strip()], cli_env, tmp_path)
    assert "[red]Spring[/red] wave" in status.stdout


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
    report = run(["wave", "report", wave_id], cli_env, tmp_path)
    assert report.returncode == 0 and "## Per step, channel and locale" in report.stdout
    assert (
        json.loads(run(["wave", "report", wave_id, "--format", "json"], cli_env, tmp_path).stdout)[
            "asked"
        ]
        == 0
    )
    audience = run(["wave", "audience", "export", wave_id], cli_env, tmp_path)
    assert audience.returncode == 0, audience.stderr
    lines = audience.stdout.splitlines()
    assert lines[0].startswith("external_id,reason,basis,block_email")
    assert {line.split(",")[1] for line in lines[1:]} == {
        "eligible",
        "no_lawful_basis",
        "duplicate_person",
    }
    assert "@" not in audience.stdout  # ids and reasons only, unless --with-contacts
    detailed = run(["wave", "audience", "export", wave_id, "--with-contacts"], cli_env, tmp_path)
    assert "giulia@example.it" in detailed.stdout
    outcomes = run(["wave", "outcomes", "export", wave_id], cli_env, tmp_path)
    assert outcomes.returncode == 0 and outcomes.stdout.startswith("external_id,purpose,answer")


def test_an_operator_approves_pauses_edits_and_cancels_from_the_cli(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert (
        run(["catalog", "load", str(EXAMPLES / "catalog.toml")], cli_env, tmp_path).returncode == 0
    )
    wave_file = tmp_path / "approval.toml"
    wave_file.write_text(
        re.sub(
            r"(?m)^notice_version = .*$",
            lambda m: f"{m.group(0)}\nrequire_approval = true",
            (EXAMPLES / "demo-wave.toml").read_text(),
        )
    )
    wave_id = run(["wave", "create", str(wave_file)], cli_env, tmp_path).stdout.strip()
    # No Prefect server, no paused run: one line that says what to do.
    tick = run(["wave", "tick", wave_id], cli_env, tmp_path)
    assert tick.returncode == 0, tick.stderr
    assert tick.stdout.strip().splitlines() == [
        f"wave {wave_id} awaits the approval of its audience (see `reconsent wave plan "
        f"{wave_id}`): `reconsent wave approve {wave_id} --by NAME` to send"
    ]
    listed = json.loads(run(["wave", "list", "--json"], cli_env, tmp_path).stdout)
    assert listed[0]["status"] == "awaiting_approval"
    steps = [
        (["wave", "approve", wave_id, "--by", "Maria", "--note", "checked"], "-> draft"),
        (["wave", "pause", wave_id, "--by", "Maria"], "draft -> paused"),
        (["wave", "edit", wave_id, "--set", "steps.0.wait=5d", "--by", "Maria"], "5d"),
        (["wave", "resume", wave_id, "--by", "Maria"], "paused -> draft"),
        (["wave", "cancel", wave_id, "--by", "Maria", "--reason", "wrong list"], "cancelled"),
    ]
    for args, expected in steps:
        result = run(args, cli_env, tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert expected in result.stdout, (args, result.stdout)
    again = run(["wave", "approve", wave_id, "--by", "Luca"], cli_env, tmp_path)
    assert again.returncode == 2 and "decided already" in again.stderr
    history = json.loads(run(["wave", "history", wave_id, "--json"], cli_env, tmp_path).stdout)
    assert [h["action"] for h in history] == ["approve", "pause", "edit", "resume", "cancel"]
    assert history[2]["changes"] == {"steps.0.wait": {"old": "2h", "new": "5d"}}
