"""The scheduled retention flow: a dry run counts, a run minimises, counts only come back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from flows.deployments import build_deployments
from models import Contact
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.wiring import reset_runtimes
from tests.support import factories

pytestmark = pytest.mark.prefect


@pytest.fixture
def flow_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "retention-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_RETENTION_UNANSWERED_MONTHS": "6",
    }.items():
        monkeypatch.setenv(name, value)
    yield
    reset_runtimes()


def test_the_retention_flow_counts_then_minimises(
    flow_env: None, engine: Engine, clock: FixedClock
) -> None:
    from flows.retention import apply_retention_flow

    now = clock.now()
    with unit_of_work(engine) as s:
        factories.add_catalog(s, now)
        factories.add_contact(s, now - timedelta(days=200), "SILENT")  # imported, never asked
        factories.add_contact(s, now - timedelta(days=100), "RECENT")
    dry = apply_retention_flow(dry_run=True, at=now)
    assert dry["minimised"] == {"never_answered": 1} and dry["dry_run"]
    with unit_of_work(engine) as s:
        assert s.scalar(select(Contact.email).where(Contact.external_id == "SILENT"))
    done = apply_retention_flow(at=now)
    assert done == {**dry, "dry_run": False}
    assert done["kept"] == {"recently_contacted": 1}
    with unit_of_work(engine) as s:
        assert s.scalar(select(Contact.email).where(Contact.external_id == "SILENT")) is None


def test_the_retention_deployment_runs_daily() -> None:
    [retention] = [
        d for d in build_deployments(timedelta(minutes=5)) if d.flow_name == "apply-retention"
    ]
    assert retention.name == "daily"
    assert [s.schedule.cron for s in retention.schedules] == ["0 3 * * *"]
