"""verify holds the projection equal to the latest event of each (contact, purpose)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from models import ConsentEvent, ConsentStatus, Contact
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.notice_versions import spoken_version
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.verify import verify_ledger
from tests.support import factories

STATUS = ConsentStatus.metadata.tables[ConsentStatus.__tablename__]


def _two_people(engine: Engine, clock: FixedClock) -> dict[str, tuple[int, str]]:
    now = clock.now()
    people = {}
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for name in ("a", "b"):
            c = factories.add_contact(s, now, name)
            people[name] = (c.id, c.subject_id)
            for days, state in ((40, ConsentState.GIVEN), (4, ConsentState.WITHDRAWN)):
                factories.record(s, now, c, p["marketing_email"], state, now - timedelta(days))
    return people


def _ids(engine: Engine, contact_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(ConsentEvent.id)
                .where(ConsentEvent.contact_id == contact_id)
                .order_by(ConsentEvent.id)
            ).scalars()
        )


def test_a_row_naming_another_persons_event_is_named(engine: Engine, clock: FixedClock) -> None:
    people = _two_people(engine, clock)
    (a, a_subject), (b, _) = people["a"], people["b"]
    with engine.begin() as conn:  # a's row now names b's withdrawal (same state, same time)
        conn.execute(
            STATUS.update()
            .where(STATUS.c.contact_id == a)
            .values(last_event_id=_ids(engine, b)[-1])
        )
    report = verify_ledger(engine)
    assert [(x.subject_id, x.kind) for x in report.breaks] == [(a_subject, "projection_mismatch")]
    assert f"the latest is #{_ids(engine, a)[-1]}" in report.breaks[0].detail


def test_a_row_without_any_event_is_named(engine: Engine, clock: FixedClock) -> None:
    people = _two_people(engine, clock)
    a, a_subject = people["a"]
    with engine.begin() as conn:  # a row for a purpose a never decided on
        row = conn.execute(select(STATUS).where(STATUS.c.contact_id == a)).one()._asdict()
        conn.execute(STATUS.insert().values({**row, "purpose_id": row["purpose_id"] + 1}))
    report = verify_ledger(engine)
    assert [(x.subject_id, x.kind) for x in report.breaks] == [(a_subject, "projection_mismatch")]
    assert "the ledger has no event for it" in report.breaks[0].detail


def test_a_tie_goes_to_the_later_event_and_a_spoken_notice_to_its_web_notice(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "caller")
        contact_id = c.id
        for state in (ConsentState.GIVEN, ConsentState.REFUSED):  # the same instant
            factories.record(s, now, c, p["marketing_email"], state, now - timedelta(days=1))
        factories.record(
            s, now, c, p["marketing_phone"], ConsentState.GIVEN, now,
            notice_version=spoken_version("2026-09", "ab" * 32),
        )  # fmt: skip
    report = verify_ledger(engine)
    assert report.ok, report.breaks  # the projection keeps "2026-09" for the call's notice
    first, second = _ids(engine, contact_id)[:2]
    with engine.begin() as conn:
        conn.execute(
            STATUS.update()
            .where(STATUS.c.contact_id == contact_id, STATUS.c.state == ConsentState.REFUSED)
            .values(last_event_id=first, state=ConsentState.GIVEN)
        )
    report = verify_ledger(engine)
    assert len(report.breaks) == 1
    assert f"points at event #{first}, the latest is #{second}" in report.breaks[0].detail
    with unit_of_work(engine) as s:
        assert report.breaks[0].subject_id == s.get_one(Contact, contact_id).subject_id
