"""CRM webhook deliveries against a real receiver on 127.0.0.1: down for a while, then
back; every delivery arrives, in order per person, each signature valid under the
README's receiver check; a forged or altered one fails that check."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from models import Contact, CrmWebhookDelivery, Purpose
from reconsent.crm_webhooks.delivery_log import delivery_rows, replay
from reconsent.crm_webhooks.delivery_worker import HttpPoster, WorkerConfig, deliver_due
from reconsent.crm_webhooks.endpoint_admin import add_endpoint
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState
from tests.support import factories
from tests.support.crm_receiver import CrmReceiver, Received

BOX = SecretBox("test-crm-webhook-key")
README = Path(__file__).resolve().parents[3] / "README.md"
STATES = (ConsentState.GIVEN, ConsentState.WITHDRAWN, ConsentState.GIVEN, ConsentState.REFUSED)
Verify = Callable[..., bool]


@pytest.fixture(scope="module")
def readme_verify() -> Verify:
    """The receiver's check exactly as the README documents it."""
    block = r"<!-- crm-webhook-receiver -->\n```python\n(.*?)```"
    found = re.search(block, README.read_text(), re.S)
    assert found, "README has no crm-webhook-receiver block"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["verify_webhook"]  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[CrmReceiver]:
    crm = CrmReceiver()
    yield crm
    crm.stop()


def _history(engine: Engine, clock: FixedClock, url: str, people: int, events: str = "*") -> str:
    """``people`` contacts with len(STATES) consent events each, interleaved; an endpoint."""
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        _endpoint, secret = add_endpoint(s, url, events, BOX, now)
        contacts = [factories.add_contact(s, now, f"crm-{i}") for i in range(people)]
    for step, state in enumerate(STATES):
        with unit_of_work(engine) as s:
            for contact in contacts:
                at = now + timedelta(seconds=step)
                factories.record(s, now, contact, purposes["marketing_email"], state, at)
    return secret


def _worker(engine: Engine, clock: FixedClock, poster: HttpPoster, **kw: Any) -> Any:
    config = WorkerConfig(give_up_seconds=kw.pop("give_up", 86400), timeout_seconds=5)
    return deliver_due(engine, poster, BOX, clock, config, jitter=lambda: 0.5, **kw)


def _sequences(received: list[Received]) -> dict[str, list[int]]:
    per: dict[str, list[int]] = {}
    for hit in received:
        data = json.loads(hit.body)["data"]
        per.setdefault(data["subject_id"], []).append(data["ledger_sequence"])
    return per


def test_a_receiver_down_for_a_while_gets_every_delivery_in_order_signed(
    engine: Engine, clock: FixedClock, receiver: CrmReceiver, readme_verify: Verify
) -> None:
    people = 6
    secret = _history(engine, clock, receiver.url, people)
    poster = HttpPoster(timeout=5)
    try:
        # Down: nothing listens (connection refused); one try per drain, the rest wait.
        for _ in range(3):
            report = _worker(engine, clock, poster)
            assert (report.tries, report.retrying, report.delivered) == (1, 1, 0)
            clock.advance(timedelta(minutes=10))
        # Up, but overloaded: 503 with Retry-After 120, honoured.
        receiver.status, receiver.retry_after = 503, "120"
        receiver.start()
        assert _worker(engine, clock, poster).retrying == 1
        clock.advance(timedelta(seconds=90))
        assert _worker(engine, clock, poster).tries == 0  # still inside Retry-After
        clock.advance(timedelta(seconds=40))
        receiver.status = 200
        report = _worker(engine, clock, poster)
    finally:
        poster.close()
    total = people * len(STATES)
    assert (report.delivered, report.failed) == (total, 0)
    assert len(receiver.received) == total
    assert len({hit.headers["webhook-id"] for hit in receiver.received}) == total  # once each
    with unit_of_work(engine) as s:
        written: dict[str, list[int]] = {}
        for row in s.scalars(select(CrmWebhookDelivery).order_by(CrmWebhookDelivery.id)):
            data = json.loads(row.body)["data"]
            written.setdefault(data["subject_id"], []).append(data["ledger_sequence"])
    assert _sequences(receiver.received) == written  # each person's in the ledger's order
    assert all(seq == sorted(seq) and len(seq) == len(STATES) for seq in written.values())
    now = clock.now().timestamp()
    for hit in receiver.received:
        assert readme_verify(secret, hit.headers, hit.body, now=now)
    with unit_of_work(engine) as s:
        assert {r["state"] for r in delivery_rows(s, limit=1000)} == {"delivered"}


def test_a_forged_or_altered_delivery_fails_the_documented_check(
    engine: Engine, clock: FixedClock, receiver: CrmReceiver, readme_verify: Verify
) -> None:
    secret = _history(engine, clock, receiver.url, 1)
    receiver.start()
    poster = HttpPoster(timeout=5)
    try:
        _worker(engine, clock, poster)
    finally:
        poster.close()
    hit = receiver.received[0]
    now = clock.now().timestamp()
    assert readme_verify(secret, hit.headers, hit.body, now=now)
    altered = hit.body.replace(b'"state":"given"', b'"state":"refused"')
    assert altered != hit.body and not readme_verify(secret, hit.headers, altered, now=now)
    other_id = {**hit.headers, "webhook-id": "msg_someone_else"}
    assert not readme_verify(secret, other_id, hit.body, now=now)
    with unit_of_work(engine) as s:
        _endpoint, forger = add_endpoint(s, receiver.url, "*", BOX, clock.now())
    assert not readme_verify(forger, hit.headers, hit.body, now=now)  # signed with another key
    assert not readme_verify(secret, hit.headers, hit.body, now=now + 301)  # replayed late
    unsigned = {k: v for k, v in hit.headers.items() if k != "webhook-signature"}
    assert not readme_verify(secret, unsigned, hit.body, now=now)


def test_refused_and_given_up_deliveries_are_visible_and_replay_with_the_same_id(
    engine: Engine, clock: FixedClock, receiver: CrmReceiver
) -> None:
    _history(engine, clock, receiver.url, 1)
    receiver.status = 400
    receiver.start()
    poster = HttpPoster(timeout=5)
    try:
        report = _worker(engine, clock, poster)
        # A 4xx fails at once; the person's next delivery goes on (then fails too).
        assert (report.failed, report.retrying) == (len(STATES), 0)
        with unit_of_work(engine) as s:
            rows = delivery_rows(s, state="failed")
            assert {r["last_error"] for r in rows} == {"HTTP 400"}
            assert replay(s, clock.now(), delivery_id=rows[-1]["id"]) == 1
        receiver.status = 503
        report = _worker(engine, clock, poster, give_up=600)
        assert report.retrying == 1
        for _ in range(12):  # 5 s, 10 s, 20 s ... until ten minutes after the first try
            clock.advance(timedelta(minutes=2))
            report = _worker(engine, clock, poster, give_up=600)
            if report.failed:
                break
        assert report.failed == 1
        with unit_of_work(engine) as s:
            first = s.get(CrmWebhookDelivery, rows[-1]["id"])
            assert first is not None and first.state.value == "failed"
            assert first.last_error is not None and first.last_error.startswith("given up after")
            assert replay(s, clock.now(), since=clock.now() - timedelta(days=1)) == len(STATES)
        receiver.status = 200
        report = _worker(engine, clock, poster)
    finally:
        poster.close()
    assert report.delivered == len(STATES)
    with unit_of_work(engine) as s:
        ids = set(s.scalars(select(CrmWebhookDelivery.webhook_id)))
        contact = s.scalar(select(Contact))
        assert contact is not None and s.scalar(select(Purpose.id)) is not None
    assert {hit.headers["webhook-id"] for hit in receiver.received} == ids
