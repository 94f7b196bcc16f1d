"""``reconsent webhooks`` as an operator runs it: a subprocess, a real receiver, an
import that tells the CRM; the secret printed once, never again."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconsent.kernel.rules.webhook_signing import verify
from tests.integration.test_cli import run
from tests.support.crm_receiver import CrmReceiver

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _ok(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = run(args, env, cwd)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_add_import_deliver_list_replay_rotate_remove(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = CrmReceiver()
    receiver.start()
    try:
        _ok(["db", "upgrade"], cli_env, tmp_path)
        _ok(["catalog", "load", str(EXAMPLES / "catalog.toml")], cli_env, tmp_path)
        added = _ok(
            ["webhooks", "add", receiver.url, "--events", "consent.*,rights.request.*"],
            cli_env,
            tmp_path,
        )
        secret = re.search(r"(whsec_\S+)", added)
        assert secret, added
        contacts = tmp_path / "contacts.csv"
        contacts.write_text(
            "external_id,given_name,family_name,email,phone,locale,timezone\n"
            "CRM-1,Giulia,Rossi,giulia.rossi@example.it,+393331234567,it,Europe/Rome\n"
        )
        consents = tmp_path / "consents.csv"
        consents.write_text(
            "external_id,purpose,state,captured_at,notice_version,channel,source,evidence_ref\n"
            "CRM-1,marketing_email,given,2025-03-02T10:15:00+01:00,2024-01,email,crm,form-1\n"
        )
        _ok(["contacts", "import", str(contacts)], cli_env, tmp_path)
        _ok(["consents", "import", str(consents)], cli_env, tmp_path)
        delivered = run(["webhooks", "deliver", "--once"], cli_env, tmp_path)
        assert delivered.returncode == 0, delivered.stderr
        assert "delivered 1" in delivered.stderr
        assert len(receiver.received) == 1
        hit = receiver.received[0]
        stamp = int(hit.headers["webhook-timestamp"])
        assert verify(secret.group(1), hit.headers, hit.body, stamp)
        data = json.loads(hit.body)["data"]
        assert (data["external_id"], data["purpose"], data["state"]) == (
            "CRM-1",
            "marketing_email",
            "given",
        )
        assert b"giulia" not in hit.body.lower() and b"333" not in hit.body

        listed = _ok(["webhooks", "list", "--json"], cli_env, tmp_path)
        [endpoint] = json.loads(listed)
        assert endpoint["deliveries"] == {"delivered": 1}
        assert secret.group(1) not in listed + _ok(["webhooks", "list"], cli_env, tmp_path)
        assert endpoint["secret"].startswith("whsec_********")

        rows = json.loads(_ok(["webhooks", "deliveries", "--json"], cli_env, tmp_path))
        assert [(r["event_type"], r["state"]) for r in rows] == [("consent.changed", "delivered")]
        assert "body" not in rows[0]
        assert "1 deliveries queued again" in _ok(
            ["webhooks", "replay", str(rows[0]["id"])], cli_env, tmp_path
        )
        rotated = _ok(["webhooks", "rotate-secret", "1"], cli_env, tmp_path)
        new_secret = re.search(r"(whsec_\S+)", rotated)
        assert new_secret and new_secret.group(1) != secret.group(1)
        _ok(["webhooks", "deliver", "--once"], cli_env, tmp_path)
        again = receiver.received[1]
        assert again.headers["webhook-id"] == hit.headers["webhook-id"]  # a replay: same id
        stamp = int(again.headers["webhook-timestamp"])
        assert verify(new_secret.group(1), again.headers, again.body, stamp)
        assert verify(secret.group(1), again.headers, again.body, stamp)  # grace period

        bad = run(
            ["webhooks", "add", receiver.url, "--events", "consent.chnaged"], cli_env, tmp_path
        )
        assert bad.returncode == 2 and "matches no event type" in bad.stderr
        plain = run(
            ["webhooks", "add", "http://crm.example.com/x", "--events", "*"], cli_env, tmp_path
        )
        assert plain.returncode == 2 and "https" in plain.stderr
        assert "removed" in _ok(["webhooks", "remove", "1"], cli_env, tmp_path)
        assert json.loads(_ok(["webhooks", "list", "--json"], cli_env, tmp_path)) == []
    finally:
        receiver.stop()
