"""The ledger: chains verify, hand edits are caught, concurrent writers never fork a chain."""

from __future__ import annotations

import gc
import threading
import warnings
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from models import ConsentEvent, Contact, Purpose
from reconsent.db import is_postgres, make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.ledger.verify import verify_ledger, verify_ledger_parallel
from tests.support import factories
from tests.support.postgres import owner_url


def _history(engine: Engine, clock: FixedClock, people: int = 3) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for i in range(people):
            c = factories.add_contact(s, now, f"p{i}")
            for days, state in (
                (400, ConsentState.GIVEN),
                (20, ConsentState.WITHDRAWN),
                (2, ConsentState.GIVEN),
            ):
                factories.record(s, now, c, p["marketing_email"], state, now - timedelta(days=days))
            factories.record(
                s, now, c, p["profiling"], ConsentState.REFUSED, now - timedelta(days=1)
            )


def test_intact_ledger_verifies(engine: Engine, clock: FixedClock) -> None:
    _history(engine, clock)
    report = verify_ledger(engine)
    assert report.ok, report.breaks
    assert (report.events, report.subjects) == (12, 3)


def _tamper(engine: Engine, statement: str) -> None:
    """As the owner (an insider with more than the runtime role's rights)."""
    insider = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    with insider.begin() as conn:
        if is_postgres(engine):
            conn.execute(text("ALTER TABLE consent_events DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE consent_events ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER consent_events_no_update"))
            conn.execute(text("DROP TRIGGER consent_events_no_delete"))
            conn.execute(text(statement))
    insider.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_events SET state = 'given' WHERE id = 2",
        "UPDATE consent_events SET occurred_at = occurred_at - INTERVAL '1 day' WHERE id = 2",
        "UPDATE consent_events SET evidence = '{\"forged\": true}' WHERE id = 4",
        "UPDATE consent_events SET notice_version = '1999-01' WHERE id = 1",
        "UPDATE consent_events SET notice_digest = 'x' WHERE id = 1",
        "UPDATE consent_events SET actor = 'someone-else' WHERE id = 3",
        "UPDATE consent_events SET provable = NOT provable WHERE id = 3",
        "UPDATE consent_events SET hash = prev_hash WHERE id = 2",
        "DELETE FROM consent_events WHERE id = 2",
    ],
)
def test_any_hand_edit_is_caught(engine: Engine, clock: FixedClock, statement: str) -> None:
    _history(engine, clock)
    if not is_postgres(engine):
        statement = statement.replace(
            "occurred_at - INTERVAL '1 day'", "datetime(occurred_at, '-1 day')"
        )
    if "DELETE" in statement:
        with engine.begin() as conn:  # the projection would still point at it
            conn.execute(
                text("UPDATE consent_status SET last_event_id = 3 WHERE last_event_id = 2")
            )
    _tamper(engine, statement)
    report = verify_ledger(engine)
    assert not report.ok
    with unit_of_work(engine) as s:
        subject = s.scalar(select(Contact.subject_id).where(Contact.external_id == "p0"))
    assert {b.subject_id for b in report.breaks if b.kind != "projection_mismatch"} == {subject}


@pytest.mark.postgres
def test_concurrent_writers_never_fork_a_chain(pg_url: str, clock: FixedClock) -> None:
    engine = make_engine(pg_url, pool_size=12)
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        contact = factories.add_contact(s, now, "busy")
        contact_id, subject_id = contact.id, contact.subject_id
        purpose_ids = [p["marketing_email"].id, p["marketing_sms"].id]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def decide(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                with unit_of_work(engine) as s:
                    purpose = s.get_one(Purpose, purpose_ids[(n + i) % 2])
                    append_events(
                        s,
                        [
                            NewEvent(
                                contact_id=contact_id,
                                subject_id=subject_id,
                                purpose=purpose,
                                state=ConsentState.GIVEN if (n + i) % 3 else ConsentState.REFUSED,
                                occurred_at=now + timedelta(seconds=n * 10 + i),
                                method=CollectionMethod.PORTAL,
                                actor="subject",
                            )
                        ],
                        LedgerContext("C", "IT", now),
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with unit_of_work(engine) as s:
        prevs = s.scalars(
            select(ConsentEvent.prev_hash).where(ConsentEvent.subject_id == subject_id)
        ).all()
    assert len(prevs) == 40
    assert len(set(prevs)) == 40  # every event has a distinct predecessor: one line, no fork
    assert verify_ledger(engine).ok
    engine.dispose()


def test_parallel_verification_finds_the_same_breaks(
    db_url: str, engine: Engine, clock: FixedClock
) -> None:
    from reconsent.ledger.verify import verify_ledger_parallel

    _history(engine, clock, people=6)
    assert verify_ledger_parallel(db_url, workers=2, min_events=0).ok
    _tamper(engine, "UPDATE consent_events SET actor = 'x' WHERE id = 10")
    serial = verify_ledger(engine)
    parallel = verify_ledger_parallel(db_url, workers=2, min_events=0)
    assert [b.event_id for b in parallel.breaks] == [b.event_id for b in serial.breaks]
    assert len(serial.breaks) == 1
    assert (parallel.events, parallel.subjects) == (24, 6)


def test_verify_returns_every_connection_it_opens(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ledger verify`` checks every connection back in before it disposes its engine.

    The count query used a connection it never closed, and an early return left the
    event stream's connection open: CPython's reference counting happened to return
    both, so this pins the explicit scopes rather than reproducing a leak.
    """
    import reconsent.db

    opened: list[dict[str, int]] = []  # checkouts and checkins per engine made
    real = reconsent.db.make_engine

    def recording(url: str, **kwargs: Any) -> Engine:
        made = real(url, **kwargs)
        counts = {"out": 0, "in": 0}
        opened.append(counts)
        event.listen(made, "checkout", lambda *_: counts.__setitem__("out", counts["out"] + 1))
        event.listen(made, "checkin", lambda *_: counts.__setitem__("in", counts["in"] + 1))
        dispose = made.dispose

        def checked_dispose(close: bool = True) -> None:
            counts["open_at_dispose"] = made.pool.checkedout()  # type: ignore[attr-defined]
            dispose(close)

        monkeypatch.setattr(made, "dispose", checked_dispose)
        return made

    monkeypatch.setattr(reconsent.db, "make_engine", recording)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = verify_ledger_parallel(engine.url.render_as_string(hide_password=False))
        gc.collect()
    assert report.ok
    assert [counts["out"] - counts["in"] for counts in opened] == [0]
    assert [counts["open_at_dispose"] for counts in opened] == [0]
    assert not [w for w in caught if "non-checked-in connection" in str(w.message)]
    # psycopg's "connection deleted while still open": what the unscoped count used to leave
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_verify_stopping_at_max_breaks_closes_the_stream(engine: Engine, clock: FixedClock) -> None:
    _history(engine, clock)
    _tamper(engine, "UPDATE consent_events SET prev_hash = 'x'")
    report = verify_ledger(engine, max_breaks=1)
    assert len(report.breaks) == 1
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
