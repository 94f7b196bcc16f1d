"""Receipts from the ledger, signed with Ed25519, verifiable by a third party."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reconsent.ledger.receipt_signing import new_key, public_key_of
from tests.integration.test_cli import EXAMPLES, run
from tests.support.readme_blocks import readme_block


def test_signed_receipt_and_proof(cli_env: dict[str, str], tmp_path: Path) -> None:
    key = new_key()
    env = {**cli_env, "RECONSENT_RECEIPT_SIGNING_KEY": key}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["catalog", "load", str(EXAMPLES / "catalog.toml")], env, tmp_path).returncode == 0
    (tmp_path / "c.csv").write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone\n"
        "R1,Giulia,Rossi,giulia@example.it,,it,Europe/Rome\n"
    )
    (tmp_path / "h.csv").write_text(
        "external_id,purpose,state,captured_at,notice_version,channel,source,evidence_ref\n"
        "R1,marketing_email,given,2026-10-01T10:00:00Z,2026-09,email,crm,form-1\n"
        "R1,profiling,refused,2026-10-01T10:00:00Z,2026-09,email,crm,form-1\n"
        "R1,third_party_sharing,given,2026-10-01T10:00:00Z,2026-09,email,crm,form-1\n"
        "R1,marketing_email,withdrawn,2026-10-20T10:00:00Z,2026-09,email,crm,form-2\n"
    )
    assert run(["contacts", "import", str(tmp_path / "c.csv")], env, tmp_path).returncode == 0
    recorded = {**env, "RECONSENT_CONTROLLER_NAME": "Contact Centre Demo S.r.l."}
    assert run(["consents", "import", str(tmp_path / "h.csv")], recorded, tmp_path).returncode == 0

    shown = run(["receipts", "show", "R1"], env, tmp_path)  # today's settings: another name
    receipt = json.loads(shown.stdout)
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["publicKey"] == public_key_of(key)
    purposes = {p["purposeCode"]: p for s in receipt["services"] for p in s["purposes"]}
    assert {code: p["consentState"] for code, p in purposes.items()} == {
        "marketing_email": "withdrawn",
        "profiling": "refused",
        "third_party_sharing": "given",
    }
    assert [h["state"] for h in purposes["marketing_email"]["history"]] == ["given", "withdrawn"]
    assert purposes["third_party_sharing"]["thirdPartyDisclosure"] is True
    assert purposes["profiling"]["thirdPartyDisclosure"] is False
    assert [c["piiController"] for c in receipt["piiControllers"]] == ["Contact Centre Demo S.r.l."]
    assert receipt["collectionMethod"] == (
        "imported from the customer records (crm), originally by e-mail"
    )
    (tmp_path / "r.json").write_text(shown.stdout)
    ok = run(
        ["receipts", "verify", str(tmp_path / "r.json"), "--public-key", public_key_of(key)],
        env,
        tmp_path,
    )
    assert ok.returncode == 0, ok.stdout
    receipt["piiPrincipalId"] = "someone-else"
    (tmp_path / "t.json").write_text(json.dumps(receipt))
    assert run(["receipts", "verify", str(tmp_path / "t.json")], env, tmp_path).returncode == 1
    # The README's recipe, with the public key alone: the receipt holds, the altered one not.
    recipe = tmp_path / "check_receipt.py"
    recipe.write_text(readme_block("auditor-receipt"))
    for name, holds in (("r.json", True), ("t.json", False)):
        checked = subprocess.run(
            [sys.executable, str(recipe), str(tmp_path / name), public_key_of(key)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (checked.returncode == 0) is holds, checked.stderr
    assert checked.stderr.strip().endswith("InvalidSignature")

    proof = json.loads(run(["proof", "R1", "--json"], env, tmp_path).stdout)
    assert [e["method"] for e in proof["events"]] == ["imported"] * 4
    assert {e["controller"] for e in proof["events"]} == {"Contact Centre Demo S.r.l."}
    assert proof["receipt"]["consentReceiptID"] == json.loads(shown.stdout)["consentReceiptID"]
    per_purpose = {r["consentRecords"][0]["purposeCode"]: r for r in proof["receipts"]}
    assert set(per_purpose) == {"marketing_email", "profiling", "third_party_sharing"}
    assert [r["state"] for r in per_purpose["marketing_email"]["consentRecords"]] == [
        "given",
        "withdrawn",
    ]
    assert all(r["publicKey"] == public_key_of(key) and "signature" in r for r in proof["receipts"])
    table = run(["proof", "R1"], env, tmp_path)
    assert table.stdout.count("Contact Centre Demo S.r.l.") == 4  # one per event, as recorded
    verified = json.loads(run(["ledger", "verify", "--json"], env, tmp_path).stdout)
    assert verified["ok"] and verified["events"] == 4
