"""The scheduled sweep delivers the CRM webhooks that are due (deployments without a
``webhooks deliver`` process still send them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reconsent.crm_webhooks.endpoint_admin import add_endpoint
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.webhook_signing import verify
from reconsent.kernel.vocab import ConsentState
from reconsent.wiring import reset_runtimes
from tests.support import factories
from tests.support.crm_receiver import CrmReceiver

pytestmark = pytest.mark.prefect
KEY = "sweep-crm-webhook-key"


@pytest.fixture
def sweep_env(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    for name, value in {
        "RECONSENT_DATABASE_URL": db_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_SIGNING_KEYS": "sweep-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_CRM_WEBHOOK_SECRET_KEY": KEY,
    }.items():
        monkeypatch.setenv(name, value)
    yield
    reset_runtimes()


def test_the_sweep_delivers_due_crm_webhooks(
    sweep_env: None, engine: Engine, clock: FixedClock
) -> None:
    from flows.sweep import tick_active_waves

    receiver = CrmReceiver()
    receiver.start()
    now = clock.now()
    try:
        with unit_of_work(engine) as s:
            p = factories.add_catalog(s, now)
            _endpoint, secret = add_endpoint(
                s, receiver.url, "consent.changed", SecretBox(KEY), now
            )
            c = factories.add_contact(s, now, "a")
            factories.record(
                s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(1)
            )
        result = tick_active_waves()
        assert result["crm_webhooks"]["delivered"] == 1
        assert tick_active_waves()["crm_webhooks"]["delivered"] == 0  # sent once
    finally:
        receiver.stop()
    [hit] = receiver.received
    assert verify(secret, hit.headers, hit.body, int(hit.headers["webhook-timestamp"]))
