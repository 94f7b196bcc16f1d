"""Operator capture: ledger events (method operator) naming the key and the agent; an
Idempotency-Key records a retry once; the same key with another body is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from models import ConsentEvent, ConsentStatus, IdempotentRequest, Purpose, Suppression
from reconsent.db import unit_of_work
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.verify import verify_ledger
from tests.integration.operator_api.conftest import ANNA, Keys
from tests.support.evidence import opened

URL = "/api/v1/consents"


def _post(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact": {"external_id": "bruno"},
        "agent_id": "agent-7",
        "call_id": "CA123",
        "recording_ref": "rec/2026/12/01/123.wav",
        "notice_version": "2026-09",
        "choices": [
            {"purpose": "marketing_phone", "decision": "given"},
            {"purpose": "marketing_email", "decision": "refused"},
        ],
    }
    body.update(overrides)
    return body


def _events(engine: Engine) -> list[ConsentEvent]:
    with unit_of_work(engine) as s:
        return list(
            s.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.method == CollectionMethod.OPERATOR)
                .order_by(ConsentEvent.id)
            )
        )


def test_a_decision_becomes_operator_events_naming_key_agent_and_call(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    answer = client.post(URL, json=_post(), headers=keys.auth(keys.write))
    assert answer.status_code == 201, answer.text
    # A "no" to a purpose the person held GIVEN is a withdrawal, whatever the word.
    assert answer.json() == {
        "external_id": "bruno",
        "states": {"marketing_phone": "given", "marketing_email": "withdrawn"},
    }
    phone, email = _events(engine)
    assert (phone.state, email.state) == (ConsentState.GIVEN, ConsentState.WITHDRAWN)
    assert phone.actor == "operator:agent-7" and phone.notice_version == "2026-09"
    assert phone.notice_digest is not None and phone.provable
    assert phone.evidence["api_key"]["name"] == "desk"
    assert phone.evidence["agent_id"] == "agent-7"
    assert (opened(engine, phone)["call_id"], opened(engine, phone)["recording_ref"]) == (
        "CA123", "rec/2026/12/01/123.wav",
    )  # fmt: skip
    assert verify_ledger(engine).ok


def test_a_retry_with_the_same_idempotency_key_records_once(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    headers = {**keys.auth(keys.write), "Idempotency-Key": "call-CA123-1"}
    first = client.post(URL, json=_post(), headers=headers)
    again = client.post(URL, json=_post(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(_events(engine)) == 2
    other = client.post(URL, json=_post(agent_id="agent-8"), headers=headers)
    assert other.status_code == 409
    assert len(_events(engine)) == 2
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(IdempotentRequest)) == 1


def test_an_objection_suppresses_every_address_at_once(
    client: TestClient, keys: Keys, engine: Engine, seeded: dict[str, int]
) -> None:
    answer = client.post(
        "/api/v1/objections",
        json={"contact": {"phone": ANNA}, "agent_id": "agent-7", "recording_ref": "r1"},
        headers=keys.auth(keys.write),
    )
    assert answer.status_code == 201, answer.text
    with unit_of_work(engine) as s:
        hashed = s.scalars(
            select(Suppression.channel).where(
                Suppression.address_hash.is_not(None), Suppression.contact_id == seeded["anna"]
            )
        ).all()
        states = s.execute(
            select(Purpose.code, ConsentStatus.state)
            .join(Purpose, Purpose.id == ConsentStatus.purpose_id)
            .where(ConsentStatus.contact_id == seeded["anna"])
        ).all()
    assert sorted(str(c) for c in hashed) == ["email", "ivr", "sms"]
    assert {state for _, state in states} == {ConsentState.WITHDRAWN}
    withdrawals = _events(engine)
    assert {e.evidence["agent_id"] for e in withdrawals} == {"agent-7"}
    assert {e.evidence["api_key"]["name"] for e in withdrawals} == {"desk"}


def test_what_cannot_be_recorded_is_refused_and_writes_nothing(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    auth = keys.auth(keys.write)
    unknown_notice = client.post(URL, json=_post(notice_version="1999-01"), headers=auth)
    assert unknown_notice.status_code == 404
    nobody = client.post(URL, json=_post(contact={"phone": "+393339999999"}), headers=auth)
    assert nobody.status_code == 404 and "+39333" not in nobody.text
    two_ways = client.post(
        URL, json=_post(contact={"phone": ANNA, "external_id": "anna"}), headers=auth
    )
    assert two_ways.status_code == 422
    bad_word = _post(choices=[{"purpose": "marketing_phone", "decision": "maybe"}])
    assert client.post(URL, json=bad_word, headers=auth).status_code == 422
    assert client.post(URL, json=_post(), headers=keys.auth(keys.read)).status_code == 403
    assert _events(engine) == []
