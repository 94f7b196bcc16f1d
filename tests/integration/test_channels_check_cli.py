"""``reconsent channels check`` as a user runs it: exit status and one line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reconsent.dev.emulators.sendgrid_events import EventWebhookSigner
from tests.support.checkout import with_checkout


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RECONSENT_")}
    clean.update({"RECONSENT_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-m", "reconsent.cli.main", "channels", "check"],
        capture_output=True,
        text=True,
        env=with_checkout(clean),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_a_usable_configuration_exits_0(tmp_path: Path) -> None:
    result = _check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "outbox" in result.stdout and result.stderr == ""


def test_problems_exit_1_one_line_each_without_secrets(tmp_path: Path) -> None:
    result = _check(
        tmp_path,
        RECONSENT_CHANNEL_MODE="providers",
        RECONSENT_PORTAL_BASE_URL="http://consent.example.it",
        RECONSENT_SENDGRID_API_KEY="SG.do-not-print",
        RECONSENT_TWILIO_ACCOUNT_SID="AC" + "2" * 32,
        RECONSENT_TWILIO_AUTH_TOKEN="do-not-print-either",
        RECONSENT_SMS_FROM="ExampleCo",
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert lines == [
        "problem: ivr: RECONSENT_VOICE_FROM is missing for twilio",
        "problem: RECONSENT_PORTAL_BASE_URL='http://consent.example.it' must be https:// "
        "(only localhost may use http): providers post their webhooks there",
        "problem: RECONSENT_SENDGRID_EVENT_PUBLIC_KEY is unset: every SendGrid event batch "
        "would be refused (403)",
    ]
    assert "do-not-print" not in result.stdout + result.stderr


def test_the_event_key_from_the_console_is_accepted(tmp_path: Path) -> None:
    result = _check(
        tmp_path,
        RECONSENT_SENDGRID_API_KEY="SG.key",
        RECONSENT_SENDGRID_EVENT_PUBLIC_KEY=EventWebhookSigner().public_key,
    )
    assert result.returncode == 0, result.stderr
    assert "sendgrid: https://api.sendgrid.com" in result.stdout
