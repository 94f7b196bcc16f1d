"""Two delivery workers at once send each CRM webhook delivery exactly once, in order
per person (counted at a real receiver on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from reconsent.crm_webhooks.delivery_worker import (
    DeliveryReport,
    HttpPoster,
    WorkerConfig,
    deliver_due,
)
from reconsent.crm_webhooks.endpoint_admin import add_endpoint
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState
from tests.support import factories
from tests.support.crm_receiver import CrmReceiver

BOX = SecretBox("test-crm-webhook-key")
PEOPLE, EVENTS = 40, 4


def _backlog(db_url: str, clock: FixedClock, url: str) -> None:
    engine = make_engine(db_url)
    now = clock.now()
    try:
        with unit_of_work(engine) as s:
            purposes = factories.add_catalog(s, now)
            add_endpoint(s, url, "consent.changed", BOX, now)
            contacts = [factories.add_contact(s, now, f"crm-{i}") for i in range(PEOPLE)]
            for step in range(EVENTS):
                state = ConsentState.GIVEN if step % 2 == 0 else ConsentState.WITHDRAWN
                for contact in contacts:
                    at = now + timedelta(seconds=step)
                    factories.record(s, now, contact, purposes["marketing_email"], state, at)
    finally:
        engine.dispose()


def test_two_workers_send_each_delivery_exactly_once(db_url: str, clock: FixedClock) -> None:
    receiver = CrmReceiver()
    receiver.start()
    _backlog(db_url, clock, receiver.url)
    start = threading.Barrier(2)
    reports: list[DeliveryReport] = []
    failures: list[BaseException] = []

    def work() -> None:
        engine = make_engine(db_url)
        poster = HttpPoster(timeout=5)
        try:
            start.wait()
            config = WorkerConfig(give_up_seconds=86400, timeout_seconds=5, batch_size=5)
            reports.append(deliver_due(engine, poster, BOX, clock, config))
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)
        finally:
            poster.close()
            engine.dispose()

    threads = [threading.Thread(target=work) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        receiver.stop()
    assert failures == []
    total = PEOPLE * EVENTS
    counts = Counter(hit.headers["webhook-id"] for hit in receiver.received)
    assert len(counts) == total and set(counts.values()) == {1}  # every one, exactly once
    assert sum(r.delivered for r in reports) == total
    assert all(r.delivered > 0 for r in reports), reports
    per: dict[str, list[Any]] = {}
    for hit in receiver.received:
        data = json.loads(hit.body)["data"]
        per.setdefault(data["subject_id"], []).append(data["ledger_sequence"])
    assert len(per) == PEOPLE
    assert all(seq == sorted(seq) and len(seq) == EVENTS for seq in per.values())


def test_a_claim_takes_at_most_its_limit_and_the_next_claim_the_next_ones(
    db_url: str, clock: FixedClock
) -> None:
    """PostgreSQL may re-run an ``IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` per
    row (the first version claimed all 40 first deliveries at once): pinned."""
    from reconsent.crm_webhooks.delivery_claims import claim_due

    _backlog(db_url, clock, "http://127.0.0.1:9/unused")
    engine = make_engine(db_url)
    lease = timedelta(minutes=5)
    try:
        first = claim_due(engine, clock.now(), "a", limit=5, lease=lease)
        second = claim_due(engine, clock.now(), "b", limit=5, lease=lease)
        rest = claim_due(engine, clock.now(), "c", limit=1000, lease=lease)
    finally:
        engine.dispose()
    assert [c.id for c in first] == [1, 2, 3, 4, 5]
    assert [c.id for c in second] == [6, 7, 8, 9, 10]
    # Each person's first delivery only: the later ones wait for it.
    assert [c.id for c in rest] == list(range(11, PEOPLE + 1))
