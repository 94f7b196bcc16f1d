"""``reconsent retention apply`` on the example catalog: counts only, then the proof says
the evidence was shredded while the receipt and ``ledger verify`` still work."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import EXAMPLES, run

AT = "2027-06-01T09:00:00Z"


def test_retention_apply_reports_counts_and_proof_says_shredded(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["catalog", "load", str(EXAMPLES / "catalog.toml")], env, tmp_path).returncode == 0
    (tmp_path / "c.csv").write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone\n"
        "R1,Giulia,Rossi,giulia@example.it,+393331234567,it,Europe/Rome\n"
        "R2,Marco,Bianchi,marco@example.it,,it,Europe/Rome\n"
        "R3,Anna,Verdi,anna@example.it,,it,Europe/Rome\n"
    )
    (tmp_path / "h.csv").write_text(
        "external_id,purpose,state,captured_at,notice_version,channel,source,evidence_ref\n"
        "R1,marketing_email,refused,2024-03-01T10:00:00Z,2024-01,email,crm,form-77\n"
        "R2,marketing_email,given,2026-10-01T10:00:00Z,2026-09,email,crm,form-78\n"
    )
    assert run(["contacts", "import", str(tmp_path / "c.csv")], env, tmp_path).returncode == 0
    assert run(["consents", "import", str(tmp_path / "h.csv")], env, tmp_path).returncode == 0

    dry = run(["retention", "apply", "--dry-run", "--json", "--now", AT], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)
    assert counts["dry_run"] and counts["minimised"] == {"refused": 1}
    assert counts["kept"] == {"consent_in_force": 1, "recently_contacted": 1}
    assert counts["evidence_keys_shredded"] == 1
    for secret in ("Giulia", "giulia@example.it", "R1", "form-77"):
        assert secret not in dry.stdout  # counts only
    before = json.loads(run(["proof", "R1", "--json"], env, tmp_path).stdout)
    assert before["events"][0]["evidence"]["evidence_ref"] == "form-77"

    done = run(["retention", "apply", "--now", AT], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "minimised: refused" in done.stdout and "evidence keys shredded: 1" in done.stdout
    assert "Giulia" not in done.stdout

    proof = run(["proof", "R1"], env, tmp_path)
    assert proof.returncode == 0 and "evidence shredded" in proof.stdout
    shown = json.loads(run(["proof", "R1", "--json"], env, tmp_path).stdout)
    assert shown["evidence_shredded"] and shown["erased"]
    assert shown["events"][0]["evidence"] == {
        "import_file": "h.csv", "line": 2, "evidence_shredded": True
    }  # fmt: skip
    assert "form-77" not in json.dumps(shown)
    kept = json.loads(run(["proof", "R2", "--json"], env, tmp_path).stdout)
    assert kept["events"][0]["evidence"]["evidence_ref"] == "form-78"
    assert kept["receipt"] is not None  # receipts still built for the kept
    assert run(["receipts", "show", "R1"], env, tmp_path).returncode == 0
    assert run(["ledger", "verify"], env, tmp_path).returncode == 0

    again = run(["retention", "apply", "--json", "--now", AT], env, tmp_path)
    assert json.loads(again.stdout)["minimised"] == {}
