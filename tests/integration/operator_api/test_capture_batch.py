"""Consent posts that arrive together are written in one unit of work, recording what
the one-by-one path records; a batch holding a post in error writes nothing of its own,
and every post is then written and answered on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from models import ConsentEvent, ConsentStatus, IdempotentRequest, Purpose
from operator_api.access import KeyCache
from operator_api.api_state import Api, check_options
from operator_api.capture_routes import write_consents
from reconsent.db import session_factory, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import NotFoundError
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.verify import verify_ledger
from reconsent.operators.api_keys import Caller, authenticate
from reconsent.operators.capture import CallFacts
from reconsent.operators.capture_batch import (
    ConsentCapture,
    NeedsOneByOne,
    record_capture_batch,
)
from reconsent.operators.contact_checks import Lookup
from reconsent.operators.idempotency import request_digest
from reconsent.settings import Settings
from tests.integration.operator_api.conftest import ANNA, Keys
from tests.support.evidence import wrapping_key

GIVEN, REFUSED = ConsentState.GIVEN, ConsentState.REFUSED


def _caller(engine: Engine, key: str) -> Caller:
    with unit_of_work(engine) as s:
        found = authenticate(s, key)
    assert found is not None
    return found


def _post(
    caller: Caller,
    clock: FixedClock,
    who: Lookup,
    *choices: tuple[str, ConsentState],
    key: str | None = None,
    seconds: int = 0,
) -> ConsentCapture:
    return ConsentCapture(
        lookup=who,
        choices=choices,
        notice_version="2026-09",
        call=CallFacts(caller=caller, agent_id="agent-7", call_id="CA1"),
        at=clock.now() + timedelta(seconds=seconds),
        idempotency=key,
        digest=request_digest("POST", "/api/v1/consents", f"{who}{choices}".encode()),
    )


def _operator_events(engine: Engine) -> list[ConsentEvent]:
    with unit_of_work(engine) as s:
        query = select(ConsentEvent).where(ConsentEvent.method == CollectionMethod.OPERATOR)
        return list(s.scalars(query.order_by(ConsentEvent.id)))


def _states(engine: Engine, external_id_of: dict[int, str]) -> dict[tuple[str, str], str]:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(ConsentStatus.contact_id, Purpose.code, ConsentStatus.state).join(
                Purpose, Purpose.id == ConsentStatus.purpose_id
            )
        )
        return {(external_id_of[c], code): str(state) for c, code, state in rows}


@pytest.fixture
def ctx(api_clock: FixedClock) -> LedgerContext:
    return LedgerContext(
        controller="ACME", jurisdiction="IT", now=api_clock.now(), evidence_key=wrapping_key()
    )


@pytest.fixture
def desk(engine: Engine, keys: Keys, seeded: dict[str, int]) -> Caller:
    """The key with the scope consents:write, on the seeded base."""
    return _caller(engine, keys.write)


def test_a_batch_records_each_post_with_its_own_time_and_answers_retries_once(
    engine: Engine,
    desk: Caller,
    api_clock: FixedClock,
    api_settings: Settings,
    seeded: dict[str, int],
    ctx: LedgerContext,
) -> None:
    bruno, anna = Lookup("external_id", "bruno"), Lookup("phone", ANNA)
    posts = [
        _post(desk, api_clock, bruno, ("marketing_phone", GIVEN), ("marketing_email", REFUSED)),
        _post(desk, api_clock, anna, ("marketing_sms", REFUSED), key="k1", seconds=1),
        _post(desk, api_clock, anna, ("marketing_sms", REFUSED), key="k1", seconds=2),
        # A later post on the same purpose sees the earlier one: given, then a "no" is
        # a withdrawal.
        _post(desk, api_clock, bruno, ("marketing_sms", GIVEN), seconds=3),
        _post(desk, api_clock, bruno, ("marketing_sms", REFUSED), key="k2", seconds=4),
    ]
    with unit_of_work(engine) as s:
        done = record_capture_batch(s, posts, check_options(api_settings), ctx)
    assert [d.replayed for d in done] == [False, False, True, False, False]
    assert done[0].answer.body == {
        "external_id": "bruno",
        "states": {"marketing_phone": "given", "marketing_email": "withdrawn"},
    }
    assert done[2].answer == done[1].answer  # the retry in the batch: the first's answer
    assert done[4].answer.body["states"] == {"marketing_sms": "withdrawn"}
    events = _operator_events(engine)
    assert len(events) == 5  # the retry recorded nothing
    assert [e.occurred_at - api_clock.now() for e in events] == [
        timedelta(0), timedelta(0), timedelta(seconds=1), timedelta(seconds=3),
        timedelta(seconds=4),
    ]  # fmt: skip
    assert {e.evidence["api_key"]["name"] for e in events} == {"desk"}
    names = {seeded["anna"]: "anna", seeded["bruno"]: "bruno"}
    final = _states(engine, names)
    assert final[("bruno", "marketing_sms")] == "withdrawn"
    assert final[("anna", "marketing_sms")] == "withdrawn"
    assert final[("bruno", "marketing_phone")] == "given"
    with unit_of_work(engine) as s:
        stored = dict(
            s.execute(
                select(IdempotentRequest.idempotency_key, IdempotentRequest.status_code)
            ).all()
        )
    assert stored == {"k1": 201, "k2": 201}
    # Posted again later (another batch): replayed from the stored answer.
    with unit_of_work(engine) as s:
        again = record_capture_batch(s, posts[1:3], check_options(api_settings), ctx)
    assert [a.replayed for a in again] == [True, True]
    assert again[0].answer == done[1].answer
    assert len(_operator_events(engine)) == 5
    assert verify_ledger(engine).ok


def test_a_post_in_error_sends_the_batch_one_by_one_and_each_gets_its_answer(
    engine: Engine, desk: Caller, api_clock: FixedClock, api_settings: Settings, ctx: LedgerContext
) -> None:
    good = _post(desk, api_clock, Lookup("external_id", "bruno"), ("marketing_sms", GIVEN))
    nobody = _post(desk, api_clock, Lookup("phone", "+393339999999"), ("marketing_sms", GIVEN))
    with pytest.raises(NeedsOneByOne), unit_of_work(engine) as s:
        record_capture_batch(s, [good, nobody], check_options(api_settings), ctx)
    assert _operator_events(engine) == []

    sessions = session_factory(engine)
    api = Api(
        settings=api_settings,
        clock=api_clock,
        sessions=sessions,
        reads=engine,
        keys=KeyCache(sessions, 0),
        options=check_options(api_settings),
        limiter=None,
    )
    keyed = _post(desk, api_clock, Lookup("phone", ANNA), ("marketing_sms", REFUSED), key="k9")
    first, second, third = write_consents(api, [good, nobody, keyed])
    assert not isinstance(first, Exception) and first.answer.status_code == 201
    assert isinstance(second, NotFoundError)
    assert not isinstance(third, Exception) and not third.replayed
    assert len(_operator_events(engine)) == 2
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(IdempotentRequest)) == 1
    assert verify_ledger(engine).ok
