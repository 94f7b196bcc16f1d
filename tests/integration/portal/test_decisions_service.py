"""``record_decision`` / ``record_objection`` without HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from models import Contact, Notice, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.vocab import CollectionMethod, ConsentState, RequestStatus, SuppressionReason
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.decisions import (
    DecisionInput,
    DecisionResult,
    record_decision,
    record_decisions,
)
from reconsent.ledger.objections import record_objection
from reconsent.ledger.verify import verify_ledger

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _ctx(db: Db) -> LedgerContext:
    return LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=db.clock.now())


def _decide(db: Db, request_id: int, choices: dict[str, bool], nonce: str | None = "n1") -> None:
    with unit_of_work(db.engine) as session:
        record_decision(
            session,
            request_id=request_id,
            choices=choices,
            method=CollectionMethod.PORTAL,
            channel=None,
            evidence={"token_id": "t"},
            nonce=nonce,
            ctx=_ctx(db),
        )


@pytest.mark.parametrize(
    ("choices", "message"),
    [({}, "no explicit choice"), ({"marketing_email": True, "profiling": True}, "profiling")],
)
def test_empty_or_foreign_choices_record_nothing(
    db: Db, seeded: Seeded, choices: dict[str, bool], message: str
) -> None:
    with pytest.raises(DecisionError, match=message):
        _decide(db, seeded.request_id, choices)
    assert db.events() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_an_unknown_request_is_a_decision_error(db: Db, seeded: Seeded) -> None:
    with pytest.raises(DecisionError, match="does not exist"):
        _decide(db, seeded.request_id + 1000, {"marketing_email": True})


def test_the_notice_falls_back_to_english_for_an_unknown_locale(db: Db) -> None:
    seeded = db.seed("de1", locale="de-DE")
    _decide(db, seeded.request_id, {"marketing_email": True})
    with unit_of_work(db.engine) as session:
        english = session.scalars(
            select(Notice).where(Notice.version == "2026-09", Notice.locale == "en")
        ).one()
    [event] = db.events()
    assert (event.notice_id, event.language) == (english.id, "en")


def test_a_decision_after_the_request_closed_is_recorded_but_keeps_the_status(
    db: Db, seeded: Seeded
) -> None:
    with unit_of_work(db.engine) as session:
        request = session.get(WaveRequest, seeded.request_id)
        assert request is not None
        request.status = RequestStatus.EXPIRED
    _decide(db, seeded.request_id, {"marketing_email": True, "marketing_sms": False}, nonce=None)
    assert [e.state for e in db.events()] == [ConsentState.GIVEN, ConsentState.REFUSED]
    assert db.events()[0].dedupe_key is None
    assert db.request(seeded.request_id).status is RequestStatus.EXPIRED


def test_an_objection_twice_withdraws_once_and_suppresses_once(db: Db, seeded: Seeded) -> None:
    _decide(db, seeded.request_id, {"marketing_email": True, "marketing_sms": True})
    for _ in range(2):
        with unit_of_work(db.engine) as session:
            record_objection(
                session,
                request_id=seeded.request_id,
                contact_id=seeded.contact_id,
                method=CollectionMethod.OPERATOR,
                channel=None,
                evidence={"note": "phone call to the DPO"},
                ctx=_ctx(db),
            )
    states = [e.state for e in db.events()]
    assert states == [ConsentState.GIVEN] * 2 + [ConsentState.WITHDRAWN] * 2
    assert db.events()[-1].evidence == {"note": "phone call to the DPO", "reason": "objection"}
    [suppression] = [s for s in db.suppressions() if s.address_hash is None]
    assert (suppression.reason, suppression.source) == (SuppressionReason.OBJECTION, "operator")
    assert len(db.suppressions()) == 4  # and once per address and channel (email, sms, ivr)


def test_an_objection_through_somebody_elses_request_is_refused(db: Db, seeded: Seeded) -> None:
    other = db.seed("c2")
    with pytest.raises(DecisionError, match="does not belong"), unit_of_work(db.engine) as session:
        record_objection(
            session,
            request_id=other.request_id,
            contact_id=seeded.contact_id,
            method=CollectionMethod.PORTAL,
            channel=None,
            evidence={},
            ctx=_ctx(db),
        )
    assert db.suppressions() == []


def _input(request_id: int, choices: dict[str, bool], nonce: str | None) -> DecisionInput:
    return DecisionInput(
        request_id, choices, CollectionMethod.PORTAL, None, {"token_id": "t"}, nonce
    )


def test_a_batch_records_each_decision_alone_replays_and_errors_included(db: Db) -> None:
    first, second, erased = db.seed("b1"), db.seed("b2"), db.seed("b3")
    with unit_of_work(db.engine) as session:
        contact = session.get(Contact, db.request(erased.request_id).contact_id)
        assert contact is not None
        contact.erased_at = db.clock.now()
    batch = [
        _input(first.request_id, {"marketing_email": True, "marketing_sms": False}, "n1"),
        _input(second.request_id, {"marketing_email": False}, "n2"),
        _input(erased.request_id, {"marketing_email": True}, "n3"),
        _input(first.request_id, {"marketing_email": True, "marketing_sms": False}, "n1"),
        _input(second.request_id + 1000, {"marketing_email": True}, "n4"),
    ]
    with unit_of_work(db.engine) as session:
        results = record_decisions(session, batch, _ctx(db))
    one, two, gone, again, unknown = results
    assert isinstance(one, DecisionResult) and isinstance(two, DecisionResult)
    assert isinstance(again, DecisionResult)
    assert isinstance(gone, DecisionError) and "erased" in str(gone)
    assert isinstance(unknown, DecisionError) and "does not exist" in str(unknown)
    assert (one.replay, two.replay, again.replay) == (False, False, True)
    assert (
        one.states
        == again.states
        == {
            "marketing_email": ConsentState.GIVEN,
            "marketing_sms": ConsentState.REFUSED,
        }
    )
    assert (one.request_status, two.request_status) == (
        RequestStatus.CONFIRMED,
        RequestStatus.REFUSED,
    )
    assert again.request_status is RequestStatus.CONFIRMED
    assert len(db.events()) == 3  # two for the first person, one for the second, no replay
    assert db.request(first.request_id).status is RequestStatus.CONFIRMED
    assert db.request(second.request_id).status is RequestStatus.REFUSED
    assert db.request(erased.request_id).status is RequestStatus.ACTIVE
    assert verify_ledger(db.engine).ok


def test_a_later_post_with_a_new_nonce_in_the_same_batch_is_a_new_decision(db: Db) -> None:
    seeded = db.seed("b4")
    batch = [
        _input(seeded.request_id, {"marketing_email": True}, "first"),
        _input(seeded.request_id, {"marketing_email": False}, "second"),
    ]
    with unit_of_work(db.engine) as session:
        first, second = record_decisions(session, batch, _ctx(db))
    assert isinstance(first, DecisionResult) and isinstance(second, DecisionResult)
    assert not first.replay and not second.replay
    assert [e.state for e in db.events()] == [ConsentState.GIVEN, ConsentState.REFUSED]
    # The request closed on the first answer; the second is recorded, never an overwrite.
    assert second.request_status is RequestStatus.CONFIRMED
    assert verify_ledger(db.engine).ok
