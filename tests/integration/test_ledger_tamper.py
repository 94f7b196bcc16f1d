"""An insider with the database's credentials rewrites history; checkpoints tell.

Each tamper of issue 13, on SQLite and PostgreSQL, after a signed checkpoint
was taken (how the triggers are got out of the way: ``tests/support/tampering.py``).
The rewrites that recompute every hash pass the chain check alone (asserted:
that is why checkpoints exist); ``verify --checkpoints`` names the subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from models import ConsentEvent, ConsentStatus, Contact, Purpose
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.checkpoint_signing import new_key, public_key_of
from reconsent.ledger.checkpoints import take_checkpoint, verify_with_checkpoints
from reconsent.ledger.verify import VerifyReport, verify_ledger
from tests.support import factories
from tests.support.tampering import resync_projection, rewrite, unprotected

KEY = new_key()
STATUS = ConsentStatus.metadata.tables[ConsentStatus.__tablename__]
PUBLIC = public_key_of(KEY)


@dataclass(frozen=True)
class Person:
    contact_id: int
    subject_id: str


@dataclass(frozen=True)
class Ledger:
    url: str
    engine: Engine
    folder: Path
    people: dict[str, Person]
    purposes: dict[str, int]

    def verify(self) -> VerifyReport:
        return verify_with_checkpoints(self.url, self.folder, PUBLIC)

    def named(self, report: VerifyReport, kind: str) -> set[str]:
        return {b.subject_id for b in report.breaks if b.kind == kind}


@pytest.fixture
def ledger(db_url: str, engine: Engine, clock: FixedClock, tmp_path: Path) -> Ledger:
    """Three people who gave, then withdrew, their e-mail consent; one checkpoint."""
    now = clock.now()
    people: dict[str, Person] = {}
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for name in ("p0", "p1", "p2"):
            c = factories.add_contact(s, now, name)
            people[name] = Person(c.id, c.subject_id)
            for days, purpose, state in (
                (400, "marketing_email", ConsentState.GIVEN),
                (300, "marketing_sms", ConsentState.GIVEN),
                (30, "marketing_email", ConsentState.WITHDRAWN),
                (29, "marketing_sms", ConsentState.WITHDRAWN),
                (1, "profiling", ConsentState.REFUSED),
            ):
                factories.record(s, now, c, p[purpose], state, now - timedelta(days=days))
        purposes = {code: purpose.id for code, purpose in p.items()}
    folder = tmp_path / "checkpoints"
    take_checkpoint(engine, folder, KEY, now, "Test S.r.l.")
    found = Ledger(db_url, engine, folder, people, purposes)
    assert found.verify().ok
    return found


def _withdrawn_to_given(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["state"] != ConsentState.WITHDRAWN:
        return None
    return {"state": ConsentState.GIVEN, "expires_at": row["occurred_at"] + timedelta(days=730)}


def test_a_chain_rewritten_from_its_first_withdrawal_is_named(ledger: Ledger) -> None:
    p0 = ledger.people["p0"]
    with unprotected(ledger.engine) as conn:
        changed = rewrite(conn, p0.subject_id, _withdrawn_to_given)
        for purpose_id in ledger.purposes.values():
            resync_projection(conn, p0.contact_id, purpose_id)
    assert len(changed) == 3  # both withdrawals, and the refusal after them (rehashed)
    assert verify_ledger(ledger.engine).ok  # every hash recomputed: the chain alone agrees
    report = ledger.verify()
    assert not report.ok
    assert ledger.named(report, "checkpoint_mismatch") == {p0.subject_id}
    assert {b.kind for b in report.breaks} == {"checkpoint_mismatch"}
    assert "rewritten" in report.breaks[0].detail


def test_the_latest_event_flipped_from_withdrawn_to_given_and_rehashed_is_named(
    engine: Engine, clock: FixedClock, ledger: Ledger
) -> None:
    p1 = ledger.people["p1"]
    with unit_of_work(engine) as s:  # p1 withdraws e-mail again: now their latest event
        contact = s.get_one(Contact, p1.contact_id)
        email = s.get_one(Purpose, ledger.purposes["marketing_email"])
        factories.record(s, clock.now(), contact, email, ConsentState.WITHDRAWN, clock.now())
        latest = s.scalar(select(ConsentEvent.id).order_by(ConsentEvent.id.desc()).limit(1))
    take_checkpoint(engine, ledger.folder, KEY, clock.advance(timedelta(hours=1)), "Test S.r.l.")
    with unprotected(engine) as conn:
        assert rewrite(conn, p1.subject_id, lambda r: _flip_one(r, latest)) == [latest]
        resync_projection(conn, p1.contact_id, ledger.purposes["marketing_email"])
    assert verify_ledger(engine).ok
    report = ledger.verify()
    assert ledger.named(report, "checkpoint_mismatch") == {p1.subject_id}
    assert [c["ok"] for c in report.checkpoints] == [True, False]  # the first one predates it


def _flip_one(row: dict[str, Any], event_id: int | None) -> dict[str, Any] | None:
    return _withdrawn_to_given(row) if row["id"] == event_id else None


@pytest.mark.parametrize("rehash", [True, False], ids=["rehashed", "as-is"])
def test_events_moved_to_another_contact_are_named(ledger: Ledger, rehash: bool) -> None:
    p0, p2 = ledger.people["p0"], ledger.people["p2"]
    email = ledger.purposes["marketing_email"]
    with unprotected(ledger.engine) as conn:
        if rehash:
            rewrite(conn, p0.subject_id, lambda r: _to(r, email, p2.contact_id))
        else:
            conn.execute(
                text("UPDATE consent_events SET contact_id = :to WHERE contact_id = :c")
                .bindparams(to=p2.contact_id, c=p0.contact_id)
            )  # fmt: skip
        for contact_id in (p0.contact_id, p2.contact_id):
            resync_projection(conn, contact_id, email)
    report = ledger.verify()
    assert not report.ok
    if rehash:
        assert verify_ledger(ledger.engine).ok
        assert ledger.named(report, "checkpoint_mismatch") == {p0.subject_id}
    else:  # v2 hashes cover the contact
        assert ledger.named(report, "hash_mismatch") == {p0.subject_id}
    assert {b.subject_id for b in report.breaks} == {p0.subject_id}


def _to(row: dict[str, Any], purpose_id: int, contact_id: int) -> dict[str, Any] | None:
    return {"contact_id": contact_id} if row["purpose_id"] == purpose_id else None


@pytest.mark.parametrize("how", ["pointed back", "row deleted", "state only"])
def test_the_projection_pointed_back_at_an_older_given_event_is_named(
    ledger: Ledger, how: str
) -> None:
    p2 = ledger.people["p2"]
    email = ledger.purposes["marketing_email"]
    with unprotected(ledger.engine) as conn:  # as the owner; no event touched
        given = conn.execute(
            select(ConsentEvent.id, ConsentEvent.occurred_at, ConsentEvent.expires_at).where(
                ConsentEvent.contact_id == p2.contact_id,
                ConsentEvent.purpose_id == email,
                ConsentEvent.state == ConsentState.GIVEN,
            )
        ).one()
        row = (STATUS.c.contact_id == p2.contact_id) & (STATUS.c.purpose_id == email)
        if how == "pointed back":
            conn.execute(
                STATUS.update()
                .where(row)
                .values(
                    state=ConsentState.GIVEN,
                    last_event_id=given.id,
                    occurred_at=given.occurred_at,
                    expires_at=given.expires_at,
                )
            )
        elif how == "row deleted":
            conn.execute(STATUS.delete().where(row))
        else:
            conn.execute(STATUS.update().where(row).values(state=ConsentState.GIVEN))
    for report in (verify_ledger(ledger.engine), ledger.verify()):
        assert [b.subject_id for b in report.breaks] == [p2.subject_id]
        assert report.breaks[0].kind == "projection_mismatch"
    detail = report.breaks[0].detail
    if how == "pointed back":
        assert f"points at event #{given.id}" in detail
    if how != "row deleted":
        assert "state given but the latest event says withdrawn" in detail
    else:
        assert "no current state, but the latest event says withdrawn" in detail


def test_events_after_the_newest_checkpoint_rest_on_the_chain_alone(
    engine: Engine, clock: FixedClock, ledger: Ledger
) -> None:
    """The boundary, pinned: what no checkpoint covers yet can be rewritten whole."""
    p0 = ledger.people["p0"]
    with unit_of_work(engine) as s:
        contact = s.get_one(Contact, p0.contact_id)
        email = s.get_one(Purpose, ledger.purposes["marketing_email"])
        factories.record(s, clock.now(), contact, email, ConsentState.WITHDRAWN, clock.now())
        latest = s.scalar(select(ConsentEvent.id).order_by(ConsentEvent.id.desc()).limit(1))
    assert ledger.verify().ok
    with unprotected(engine) as conn:
        rewrite(conn, p0.subject_id, lambda r: _flip_one(r, latest))
        resync_projection(conn, p0.contact_id, ledger.purposes["marketing_email"])
    assert ledger.verify().ok  # hence a checkpoint every day (the sweep takes one)
