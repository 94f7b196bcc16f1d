"""``record_decision`` / ``record_objection`` without HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from models import Notice, WaveRequest
from reconsent.db import unit_of_work
from reconsent.decisions import record_decision, record_objection
from reconsent.errors import DecisionError
from reconsent.ledger import LedgerContext
from reconsent.vocab import CollectionMethod, ConsentState, RequestStatus, SuppressionReason

if TYPE_CHECKING:
    from conftest import Db, Seeded


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
    [suppression] = db.suppressions()
    assert (suppression.reason, suppression.source) == (SuppressionReason.OBJECTION, "operator")


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
