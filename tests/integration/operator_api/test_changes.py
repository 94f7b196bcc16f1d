"""The incremental export: every change after a cursor, once, with the next cursor;
CSV cells a spreadsheet would run are neutralised."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import Purpose
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.spreadsheet import spreadsheet_safe
from reconsent.kernel.vocab import ConsentState
from reconsent.operators.consent_changes import changes_since, high_water, to_csv
from tests.integration.operator_api.conftest import Keys
from tests.integration.test_cli import EXAMPLES, run
from tests.support import factories

URL = "/api/v1/consents/changes"


def test_a_crm_polling_with_the_cursor_sees_every_change_once(
    client: TestClient, keys: Keys, engine: Engine, api_clock: FixedClock
) -> None:
    auth = keys.auth(keys.export)
    seen: list[int] = []
    cursor = 0
    for _ in range(10):
        page = client.get(URL, params={"since": cursor, "limit": 2}, headers=auth).json()
        seen += [c["cursor"] for c in page["changes"]]
        cursor = page["next_cursor"]
        if not page["changes"]:
            break
    assert seen == sorted(set(seen)) and len(seen) == 4  # the seeded consents, in order
    with unit_of_work(engine) as s:  # a change after the last poll
        profiling = s.scalars(select(Purpose).where(Purpose.code == "profiling")).one()
        contact = factories.add_contact(s, api_clock.now(), "carla")
        factories.record(
            s, api_clock.now(), contact, profiling, ConsentState.GIVEN,
            api_clock.now(), notice_version="2026-09",
        )  # fmt: skip
    page = client.get(URL, params={"since": cursor}, headers=auth).json()
    assert [c["external_id"] for c in page["changes"]] == ["carla"]
    assert page["changes"][0]["purpose"] == "profiling"
    assert page["next_cursor"] == high_water(engine) > cursor
    again = client.get(URL, params={"since": page["next_cursor"]}, headers=auth).json()
    assert again == {"changes": [], "next_cursor": page["next_cursor"]}
    assert client.get(URL, params={"limit": 0}, headers=auth).status_code == 422
    assert client.get(URL, headers=keys.auth(keys.read)).status_code == 403


def test_csv_neutralises_formula_leads(engine: Engine, seeded: dict[str, int]) -> None:
    for lead in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_safe(f"{lead}cmd") == f"'{lead}cmd"
    assert spreadsheet_safe("agent") == "agent"
    changes = changes_since(engine, 0, 10).changes
    changes[0]["actor"] = "=HYPERLINK(1)"
    rows = list(csv.reader(io.StringIO(to_csv(changes))))
    assert rows[0][0] == "cursor" and rows[1][-1] == "'=HYPERLINK(1)"


def test_consents_export_follows_the_cursor(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(["db", "upgrade"], cli_env, tmp_path).returncode == 0
    assert (
        run(["catalog", "load", str(EXAMPLES / "catalog.toml")], cli_env, tmp_path).returncode == 0
    )
    (tmp_path / "c.csv").write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone\n"
        "R1,Giulia,Rossi,giulia@example.it,,it,Europe/Rome\n"
    )
    (tmp_path / "h.csv").write_text(
        "external_id,purpose,state,captured_at,notice_version,channel,source,evidence_ref\n"
        "R1,marketing_email,given,2026-10-01T10:00:00Z,2026-09,email,crm,form-1\n"
        "R1,marketing_email,withdrawn,2026-10-20T10:00:00Z,2026-09,email,crm,form-2\n"
    )
    assert run(["contacts", "import", str(tmp_path / "c.csv")], cli_env, tmp_path).returncode == 0
    assert run(["consents", "import", str(tmp_path / "h.csv")], cli_env, tmp_path).returncode == 0
    done = run(["consents", "export", "--since", "0"], cli_env, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [c["state"] for c in lines] == ["given", "withdrawn"]
    assert "giulia" not in done.stdout  # no address in the export
    last = lines[-1]["cursor"]
    assert f"next cursor: {last}" in done.stderr
    rest = run(["consents", "export", "--since", str(last), "--format", "csv"], cli_env, tmp_path)
    assert rest.returncode == 0 and rest.stdout.splitlines() == [",".join(
        ("cursor", "event_id", "external_id", "subject_id", "purpose", "state", "occurred_at",
         "recorded_at", "method", "channel", "notice_version", "actor")
    )]  # fmt: skip
