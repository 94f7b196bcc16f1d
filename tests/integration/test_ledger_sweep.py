"""The scheduled sweep takes the day's signed ledger checkpoint, once per UTC day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.checkpoint_signing import new_key, public_key_of
from reconsent.ledger.checkpoints import verify_with_checkpoints
from reconsent.wiring import reset_runtimes
from tests.support import factories

pytestmark = pytest.mark.prefect
KEY = new_key()


@pytest.fixture
def sweep_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    folder = tmp_path / "worm"
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "sweep-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_CHECKPOINT_DIR": str(folder),
        "RECONSENT_CHECKPOINT_SIGNING_KEY": KEY,
    }.items():
        monkeypatch.setenv(name, value)
    yield folder
    reset_runtimes()


def test_the_sweep_takes_one_checkpoint_a_day(
    sweep_env: Path, db_url: str, engine: Engine, clock: FixedClock
) -> None:
    from flows.sweep import tick_active_waves

    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "a")
        factories.record(s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(1))
    first = tick_active_waves()
    assert first["checkpoint"] and first["checkpoint"].startswith("checkpoint-")
    assert tick_active_waves()["checkpoint"] is None  # one a day
    assert len(list(sweep_env.glob("checkpoint-*.json"))) == 1
    assert verify_with_checkpoints(db_url, sweep_env, public_key_of(KEY)).ok
