"""The scheduled sweep sends a rights notice a provider error left pending, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import RightsKind
from reconsent.ledger.append import LedgerContext
from reconsent.rights.subject_requests import record_rights_request
from reconsent.rights.workflow import close_request
from reconsent.wiring import reset_runtimes
from tests.support import factories

pytestmark = pytest.mark.prefect


@pytest.fixture
def sweep_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "sweep-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
    }.items():
        monkeypatch.setenv(name, value)
    yield tmp_path / "var" / "outbox"
    reset_runtimes()


def test_the_sweep_sends_a_pending_rights_notice_once(
    sweep_env: Path, engine: Engine, clock: FixedClock
) -> None:
    from flows.sweep import tick_active_waves

    now = clock.now()
    with unit_of_work(engine) as s:
        contact = factories.add_contact(s, now, "crm-5")
        row, _ = record_rights_request(s, contact=contact, kind=RightsKind.ACCESS, now=now)
        ctx = LedgerContext("Test S.r.l.", "IT", now)
        # Declined, its notice queued; the command's own send never happened (a crash).
        close_request(s, row.id, decline=True, reason="No data held", actor="anna", ctx=ctx)

    first = tick_active_waves()["rights_notices"]
    second = tick_active_waves()["rights_notices"]

    assert first == {"sent": {"email": 1}, "failed": 0, "retrying": 0}
    assert second["sent"] == {}
    (mail,) = sweep_env.glob("email/notice-*.eml")
    assert "No data held" in mail.read_text()
