"""``reconsent ledger checkpoint`` and ``verify --checkpoints`` as an operator runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Contact, Purpose
from reconsent.db import make_engine
from reconsent.kernel.vocab import ConsentState
from tests.integration.test_cli import EXAMPLES, run
from tests.support.readme_blocks import readme_block
from tests.support.tampering import resync_projection, rewrite, unprotected


def _base(env: dict[str, str], tmp_path: Path) -> None:
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["catalog", "load", str(EXAMPLES / "catalog.toml")], env, tmp_path).returncode == 0
    (tmp_path / "c.csv").write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone\n"
        "R1,Giulia,Rossi,giulia@example.it,,it,Europe/Rome\n"
        "R2,Marco,Bianchi,marco@example.it,,it,Europe/Rome\n"
    )
    (tmp_path / "h.csv").write_text(
        "external_id,purpose,state,captured_at,notice_version,channel,source,evidence_ref\n"
        "R1,marketing_email,given,2026-10-01T10:00:00Z,2026-09,email,crm,form-1\n"
        "R1,marketing_email,withdrawn,2026-10-20T10:00:00Z,2026-09,email,crm,form-2\n"
        "R2,marketing_email,given,2026-10-02T10:00:00Z,2026-09,email,crm,form-3\n"
    )
    assert run(["contacts", "import", str(tmp_path / "c.csv")], env, tmp_path).returncode == 0
    assert run(["consents", "import", str(tmp_path / "h.csv")], env, tmp_path).returncode == 0


def _keygen(env: dict[str, str], tmp_path: Path) -> tuple[str, str, str]:
    out = run(["ledger", "checkpoint-keygen"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    key = re.search(r"RECONSENT_CHECKPOINT_SIGNING_KEY=(\S+)", out.stdout)
    public = re.search(r"public key to publish: (\S+)", out.stdout)
    pem = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----\n", out.stdout, re.S)
    assert key and public and pem
    return key.group(1), public.group(1), pem.group(0)


def test_checkpoint_then_a_rewrite_is_named_by_verify(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    _base(cli_env, tmp_path)
    folder = tmp_path / "worm"
    refused = run(["ledger", "checkpoint", "--out", str(folder)], cli_env, tmp_path)
    assert refused.returncode == 2
    assert "RECONSENT_CHECKPOINT_SIGNING_KEY is not set" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    key, public, _ = _keygen(cli_env, tmp_path)
    env = {**cli_env, "RECONSENT_CHECKPOINT_SIGNING_KEY": key}
    taken = run(["ledger", "checkpoint", "--out", str(folder), "--json"], env, tmp_path)
    assert taken.returncode == 0, taken.stderr
    statement = json.loads(taken.stdout)
    assert (statement["events"], statement["subjects"]) == (3, 2)
    assert statement["public_key"] == public
    args = ["ledger", "verify", "--checkpoints", str(folder), "--public-key", public]
    intact = run([*args, "--json"], cli_env, tmp_path)
    assert intact.returncode == 0, intact.stdout
    assert json.loads(intact.stdout)["checkpoints"][0]["ok"] is True

    engine = make_engine(cli_env["RECONSENT_DATABASE_URL"])
    with engine.connect() as conn:
        r1 = conn.execute(select(Contact.id, Contact.subject_id).where(Contact.external_id == "R1"))
        contact_id, subject_id = r1.one()
        email = conn.execute(select(Purpose.id).where(Purpose.code == "marketing_email")).scalar()
    with unprotected(engine) as conn:  # R1's withdrawal becomes a yes, every hash recomputed
        rewrite(
            conn,
            subject_id,
            lambda r: {"state": ConsentState.GIVEN} if r["state"] == "withdrawn" else None,
        )
        assert email is not None
        resync_projection(conn, contact_id, email)
    engine.dispose()

    plain = run(["ledger", "verify"], cli_env, tmp_path)
    assert plain.returncode == 0  # the chain alone cannot tell...
    assert "--checkpoints" in plain.stdout  # ...and says so
    caught = run(args, cli_env, tmp_path)
    assert caught.returncode == 1
    assert subject_id in caught.stdout and "checkpoint_mismatch" in caught.stdout
    as_json = json.loads(run([*args, "--json"], cli_env, tmp_path).stdout)
    assert {b["subject_id"] for b in as_json["breaks"]} == {subject_id}

    forged = run([*args[:-1], _keygen(cli_env, tmp_path)[1]], cli_env, tmp_path)
    assert forged.returncode == 1 and "checkpoint_invalid" in forged.stdout


def test_the_readme_recipes_check_a_checkpoint_with_the_public_key_alone(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    _base(cli_env, tmp_path)
    key, public, _ = _keygen(cli_env, tmp_path)
    env = {**cli_env, "RECONSENT_CHECKPOINT_SIGNING_KEY": key}
    folder = tmp_path / "worm"
    assert run(["ledger", "checkpoint", "--out", str(folder)], env, tmp_path).returncode == 0
    stem = str(next(folder.glob("checkpoint-*.json")))[: -len(".json")]
    recipe = tmp_path / "audit.py"
    recipe.write_text(readme_block("auditor-python"))
    python = subprocess.run(
        [sys.executable, str(recipe), stem, public],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert python.returncode == 0, python.stderr
    assert "checkpoint holds" in python.stdout
    # one changed character of a head and the recipe refuses
    heads = Path(f"{stem}.heads")
    body = bytearray(heads.read_bytes())
    at = body.index(b"\t") + 1
    body[at] = ord("0") if body[at] != ord("0") else ord("1")
    heads.write_bytes(bytes(body))
    again = subprocess.run(
        [sys.executable, str(recipe), stem, public],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert again.returncode != 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_the_readme_openssl_recipe_checks_the_signature(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    _base(cli_env, tmp_path)
    key, _, pem = _keygen(cli_env, tmp_path)
    env = {**cli_env, "RECONSENT_CHECKPOINT_SIGNING_KEY": key}
    folder = tmp_path / "worm"
    assert run(["ledger", "checkpoint", "--out", str(folder)], env, tmp_path).returncode == 0
    (tmp_path / "checkpoint-key.pem").write_text(pem)
    stem = str(next(folder.glob("checkpoint-*.json")))[: -len(".json")]
    script = readme_block("auditor-openssl")
    ok = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**env, "STEM": stem},
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Signature Verified Successfully" in ok.stdout
    Path(f"{stem}.json").write_bytes(
        Path(f"{stem}.json").read_bytes().replace(b'"events":3', b'"events":4')
    )
    forged = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**env, "STEM": stem},
    )
    assert forged.returncode != 0
