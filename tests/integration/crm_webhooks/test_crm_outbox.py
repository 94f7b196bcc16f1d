"""The CRM webhooks' outbox: written with the change, in its transaction, or not at all."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from models import Contact, CrmWebhookDelivery
from reconsent.crm_webhooks.endpoint_admin import add_endpoint, remove_endpoint, set_paused
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.crm_events import DeliveryState
from reconsent.kernel.vocab import CollectionMethod, ConsentState, RightsKind
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.objections import record_objection
from reconsent.rights.subject_requests import (
    close_rights_request,
    erase_contact,
    record_rights_request,
    request_rectification,
)
from tests.support import factories

BOX = SecretBox("test-crm-webhook-key")


def _ctx(clock: FixedClock) -> LedgerContext:
    return LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=clock.now())


def _people(engine: Engine, clock: FixedClock, n: int = 2) -> list[int]:
    with unit_of_work(engine) as s:
        factories.add_catalog(s, clock.now())
        return [factories.add_contact(s, clock.now(), f"crm-{i}").id for i in range(n)]


def _endpoint(engine: Engine, clock: FixedClock, events: str) -> int:
    with unit_of_work(engine) as s:
        url = "https://crm.example.com/hooks"
        endpoint, _secret = add_endpoint(s, url, events, BOX, clock.now())
        return endpoint.id


def _give(engine: Engine, clock: FixedClock, contact_id: int, state: ConsentState) -> None:
    from models import Purpose

    with unit_of_work(engine) as s:
        contact = s.get(Contact, contact_id)
        purpose = s.scalar(select(Purpose).where(Purpose.code == "marketing_email"))
        assert contact is not None and purpose is not None
        factories.record(s, clock.now(), contact, purpose, state, clock.now())


def _deliveries(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine) as s:
        rows = s.scalars(select(CrmWebhookDelivery).order_by(CrmWebhookDelivery.id)).all()
        return [
            {
                "endpoint": r.endpoint_id,
                "type": r.event_type,
                "state": r.state,
                "subject": r.subject_key,
                "webhook_id": r.webhook_id,
                **json.loads(r.body),
            }
            for r in rows
        ]


def test_no_endpoint_no_outbox_row(engine: Engine, clock: FixedClock) -> None:
    (person, _other) = _people(engine, clock)
    _give(engine, clock, person, ConsentState.GIVEN)
    assert _deliveries(engine) == []


def test_a_consent_change_is_one_delivery_per_subscribed_endpoint_without_personal_data(
    engine: Engine, clock: FixedClock
) -> None:
    person, _other = _people(engine, clock)
    first = _endpoint(engine, clock, "consent.changed")
    second = _endpoint(engine, clock, "consent.*,objection.recorded")
    _endpoint(engine, clock, "rights.request.*")  # not subscribed to consent changes
    _give(engine, clock, person, ConsentState.GIVEN)
    rows = _deliveries(engine)
    assert [r["endpoint"] for r in rows] == [first, second]
    assert rows[0]["webhook_id"] == rows[1]["webhook_id"]  # one message, two endpoints
    assert rows[0]["type"] == "consent.changed"
    data = rows[0]["data"]
    with unit_of_work(engine) as s:
        contact = s.get(Contact, person)
        assert contact is not None
        assert data["external_id"] == "crm-0" and data["contact_id"] == person
        assert data["subject_id"] == contact.subject_id == rows[0]["subject"]
        body = json.dumps(rows[0])
        for personal in (contact.email, contact.phone, contact.given_name, contact.family_name):
            assert personal and personal not in body
    assert data["purpose"] == "marketing_email" and data["state"] == "given"
    assert data["notice_version"] == "2026-09" and data["collection_method"] == "imported"
    assert data["occurred_at"] == clock.now().isoformat() and data["ledger_sequence"] > 0
    assert rows[0]["state"] is DeliveryState.PENDING


def test_a_rolled_back_change_leaves_no_outbox_row(engine: Engine, clock: FixedClock) -> None:
    person, _other = _people(engine, clock)
    _endpoint(engine, clock, "*")
    with pytest.raises(RuntimeError), unit_of_work(engine) as s:
        contact = s.get(Contact, person)
        assert contact is not None
        record_objection(
            s,
            request_id=None,
            contact_id=person,
            method=CollectionMethod.OPERATOR,
            channel=None,
            evidence={},
            ctx=_ctx(clock),
        )
        assert s.scalar(select(func.count()).select_from(CrmWebhookDelivery)) == 1
        raise RuntimeError("the operator's call dropped: roll back")
    assert _deliveries(engine) == []


def test_an_objection_comes_after_the_withdrawals_it_made(
    engine: Engine, clock: FixedClock
) -> None:
    person, _other = _people(engine, clock)
    _give(engine, clock, person, ConsentState.GIVEN)
    _endpoint(engine, clock, "consent.changed,objection.recorded")
    clock.advance(timedelta(minutes=1))
    with unit_of_work(engine) as s:
        record_objection(
            s,
            request_id=None,
            contact_id=person,
            method=CollectionMethod.SMS,
            channel=None,
            evidence={},
            ctx=_ctx(clock),
        )
    rows = _deliveries(engine)
    assert [(r["type"], r["data"].get("state")) for r in rows] == [
        ("consent.changed", "withdrawn"),
        ("objection.recorded", None),
    ]
    assert rows[1]["data"]["withdrawn_purposes"] == ["marketing_email"]
    assert rows[1]["data"]["reason"] == "objection" and rows[1]["data"]["external_id"] == "crm-0"
    assert {r["subject"] for r in rows} == {rows[0]["data"]["subject_id"]}


def test_rights_requests_created_completed_and_declined(engine: Engine, clock: FixedClock) -> None:
    person, _other = _people(engine, clock)
    _endpoint(engine, clock, "rights.request.*")
    with unit_of_work(engine) as s:
        contact = s.get(Contact, person)
        assert contact is not None
        access, _ = record_rights_request(
            s, contact=contact, kind=RightsKind.ACCESS, now=clock.now(), completed=True
        )
        correction, _ = request_rectification(
            s, contact=contact, corrections={"email": "new.address@example.com"}, now=clock.now()
        )
        other, _ = request_rectification(
            s, contact=contact, corrections={"note": "call me Giulia"}, now=clock.now()
        )
    with unit_of_work(engine) as s:
        close_rights_request(s, correction.id, decline=False, now=clock.now())
        close_rights_request(s, correction.id, decline=True, now=clock.now())  # already closed
    with unit_of_work(engine) as s:
        contact = s.get(Contact, person)
        assert contact is not None
        erasure, _ = erase_contact(s, contact=contact, ctx=_ctx(clock))
    seen = [(r["type"], r["data"]["request_id"], r["data"]["status"]) for r in _deliveries(engine)]
    assert seen == [
        ("rights.request.created", access.id, "completed"),
        ("rights.request.completed", access.id, "completed"),
        ("rights.request.created", correction.id, "open"),
        ("rights.request.created", other.id, "open"),
        ("rights.request.completed", correction.id, "completed"),
        ("rights.request.created", erasure.id, "completed"),
        ("rights.request.completed", erasure.id, "completed"),
        ("rights.request.declined", other.id, "declined"),  # erasure declines open corrections
    ]
    bodies = json.dumps(_deliveries(engine))
    assert "new.address@example.com" not in bodies and "Giulia" not in bodies


def test_a_paused_endpoint_collects_a_removed_one_does_not(
    engine: Engine, clock: FixedClock
) -> None:
    person, other = _people(engine, clock)
    paused = _endpoint(engine, clock, "consent.changed")
    removed = _endpoint(engine, clock, "consent.changed")
    _give(engine, clock, person, ConsentState.GIVEN)
    with unit_of_work(engine) as s:
        set_paused(s, paused, paused=True, now=clock.now())
        assert remove_endpoint(s, removed, clock.now()) == 1
    _give(engine, clock, other, ConsentState.REFUSED)
    states = [(r["endpoint"], r["state"]) for r in _deliveries(engine)]
    assert states == [
        (paused, DeliveryState.PENDING),
        (removed, DeliveryState.CANCELLED),
        (paused, DeliveryState.PENDING),
    ]


def test_another_process_s_endpoint_is_seen_within_the_ttl(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process reads the endpoint table at most every SUBSCRIPTIONS_TTL seconds;
    an endpoint removed meanwhile gets its stray deliveries cancelled by the worker."""
    from sqlalchemy import update

    from models import CrmWebhookEndpoint
    from reconsent.crm_outbox import outbox_writes
    from reconsent.crm_webhooks.delivery_worker import WorkerConfig, deliver_due

    person, other = _people(engine, clock)
    _give(engine, clock, person, ConsentState.GIVEN)  # reads (and keeps) "no endpoint"
    with unit_of_work(engine) as s:  # as `webhooks add` in another process would
        s.add(
            CrmWebhookEndpoint(
                url="https://crm.example.com/hooks",
                events="*",
                state="enabled",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    _give(engine, clock, person, ConsentState.WITHDRAWN)
    assert _deliveries(engine) == []  # not seen yet
    later = time.monotonic() + outbox_writes.SUBSCRIPTIONS_TTL
    monkeypatch.setattr(time, "monotonic", lambda: later)
    _give(engine, clock, other, ConsentState.GIVEN)
    assert [r["subject"] for r in _deliveries(engine)] != []
    with unit_of_work(engine) as s:  # removed by another process: this one still sends
        s.execute(update(CrmWebhookEndpoint).values(state="removed"))
    _give(engine, clock, other, ConsentState.REFUSED)
    assert [r["state"] for r in _deliveries(engine)] == [DeliveryState.PENDING] * 2

    class NoNetwork:
        def post(self, url: str, body: bytes, headers: dict[str, str]) -> Any:
            raise AssertionError("nothing is sent to a removed endpoint")

    config = WorkerConfig(give_up_seconds=600, timeout_seconds=1)
    report = deliver_due(engine, NoNetwork(), BOX, clock, config)
    assert report.tries == 0
    assert [r["state"] for r in _deliveries(engine)] == [DeliveryState.CANCELLED] * 2


def test_with_no_endpoint_a_change_sends_no_statement_to_the_outbox(
    engine: Engine, clock: FixedClock
) -> None:
    """The ledger's write path pays nothing for the CRM webhooks when no CRM listens:
    after one read of the endpoint table, no statement names an outbox table."""
    from sqlalchemy import event

    person, other = _people(engine, clock)
    _give(engine, clock, person, ConsentState.GIVEN)  # the one read (kept for a few s)
    seen: list[str] = []

    def spy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    try:
        _give(engine, clock, other, ConsentState.GIVEN)
        _give(engine, clock, person, ConsentState.WITHDRAWN)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert any("consent_events" in s for s in seen)
    assert [s for s in seen if "crm_webhook" in s] == []
