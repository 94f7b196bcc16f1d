"""Ledger v2's migration: old events stay v1 and verify, new ones are v2, triggers hold."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import ConsentEvent, Contact, Purpose
from reconsent.db import alembic_config, make_engine, unit_of_work, upgrade
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.chain import CURRENT_VERSION, event_hash
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.verify import verify_ledger
from tests.support import factories
from tests.support.postgres import database_at

BEFORE = "b3e9c1a70001"  # the revision before ledger v2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated to the revision before ledger v2."""
    engine = make_engine(database_at(request, tmp_path, BEFORE))
    yield engine
    engine.dispose()


def _v1_history(engine: Engine, clock: FixedClock) -> tuple[int, str]:
    """Two events of one person, written as the code before ledger v2 wrote them."""
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        contact = factories.add_contact(s, now, "old")
        contact_id, subject_id, email = contact.id, contact.subject_id, purposes["marketing_email"]
        email_id = email.id
    prev: str | None = None
    with engine.begin() as conn:
        for n, state in enumerate((ConsentState.GIVEN, ConsentState.WITHDRAWN), start=1):
            at = now - timedelta(days=10 - n)
            fields = {
                "event_id": str(uuid.uuid4()),
                "subject_id": subject_id,
                "purpose": "marketing_email",
                "state": state.value,
                "occurred_at": at,
                "controller": "Contact Centre Demo",
                "jurisdiction": "IT",
                "method": "portal",
                "actor": "subject",
                "evidence": {"ip": "203.0.113.0"},
                "provable": True,
            }
            digest = event_hash(fields, prev, 1)
            conn.execute(
                text(
                    "INSERT INTO consent_events (event_id, contact_id, subject_id, purpose_id,"
                    " state, occurred_at, recorded_at, controller, jurisdiction, method, actor,"
                    " evidence, provable, prev_hash, hash) VALUES (:e, :c, :s, :p, :state, :at,"
                    " :at, 'Contact Centre Demo', 'IT', 'portal', 'subject', :ev, true, :prev,"
                    " :h)"
                ),
                {
                    "e": fields["event_id"],
                    "c": contact_id,
                    "s": subject_id,
                    "p": email_id,
                    "state": state.value,
                    "at": at if conn.dialect.name == "postgresql" else _sqlite_time(at),
                    "ev": json.dumps(fields["evidence"]),
                    "prev": prev,
                    "h": digest,
                },
            )
            prev = digest
        conn.execute(
            text(
                "INSERT INTO consent_status (contact_id, purpose_id, state, occurred_at,"
                " provable, last_event_id) SELECT contact_id, purpose_id, state, occurred_at,"
                " provable, id FROM consent_events WHERE id = (SELECT max(id) FROM consent_events)"
            )
        )
    return contact_id, subject_id


def _sqlite_time(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def test_old_events_read_v1_and_still_verify_and_new_ones_chain_on_as_v2(
    old_engine: Engine, clock: FixedClock
) -> None:
    contact_id, subject_id = _v1_history(old_engine, clock)
    url = old_engine.url.render_as_string(hide_password=False)
    upgrade(url)
    with old_engine.connect() as conn:
        assert conn.execute(text("SELECT hash_version FROM consent_events")).scalars().all() == [
            1,
            1,
        ]
    report = verify_ledger(old_engine)
    assert report.ok, report.breaks
    assert report.versions == {1: 2}
    now = clock.now()
    with unit_of_work(old_engine) as s:  # the same person decides again, under v2
        contact = s.get_one(Contact, contact_id)
        email = s.scalars(select(Purpose).where(Purpose.code == "marketing_email")).one()
        factories.record(s, now, contact, email, ConsentState.GIVEN, now)
    report = verify_ledger(old_engine)
    assert report.ok, report.breaks
    assert report.versions == {1: 2, CURRENT_VERSION: 1}  # v3 since evidence is sealed
    with unit_of_work(old_engine) as s:
        chain = s.execute(
            select(ConsentEvent.hash_version, ConsentEvent.prev_hash, ConsentEvent.hash)
            .where(ConsentEvent.subject_id == subject_id)
            .order_by(ConsentEvent.id)
        ).all()
    assert [v for v, _, _ in chain] == [1, 1, CURRENT_VERSION]
    assert chain[2].prev_hash == chain[1].hash  # one chain across the schemes
    # the append-only triggers survived the migration
    with (
        pytest.raises((IntegrityError, DBAPIError), match="append-only"),
        old_engine.begin() as conn,
    ):
        conn.execute(text("UPDATE consent_events SET hash_version = 2"))


def test_a_writer_that_does_not_name_the_version(old_engine: Engine, clock: FixedClock) -> None:
    """Code from before ledger v2 does not know the column: PostgreSQL refuses its events
    (nothing can be written that reads v1 by default); SQLite keeps the constant default
    (dropping it would rebuild the table), so such an event reads v1, as it was hashed."""
    _v1_history(old_engine, clock)
    upgrade(old_engine.url.render_as_string(hide_password=False))
    insert = text(
        "INSERT INTO consent_events (event_id, contact_id, subject_id, purpose_id, state,"
        " occurred_at, recorded_at, controller, jurisdiction, method, actor, evidence,"
        " provable, hash) SELECT 'e-old-code', contact_id, subject_id, purpose_id, state,"
        " occurred_at, recorded_at, controller, jurisdiction, method, actor, evidence,"
        " provable, 'x' FROM consent_events WHERE id = 1"
    )
    if old_engine.dialect.name == "postgresql":
        with pytest.raises(IntegrityError, match="hash_version"), old_engine.begin() as conn:
            conn.execute(insert)
    else:
        with old_engine.begin() as conn:
            conn.execute(insert)
            version = conn.execute(
                text("SELECT hash_version FROM consent_events WHERE event_id = 'e-old-code'")
            ).scalar_one()
        assert version == 1


def test_downgrade_refuses_while_v2_events_exist(old_engine: Engine, clock: FixedClock) -> None:
    contact_id, _ = _v1_history(old_engine, clock)
    url = old_engine.url.render_as_string(hide_password=False)
    upgrade(url)
    command.downgrade(alembic_config(url), BEFORE)  # only v1 events: fine
    upgrade(url)
    now = clock.now()
    with unit_of_work(old_engine) as s:
        contact = s.get_one(Contact, contact_id)
        email = s.scalars(select(Purpose).where(Purpose.code == "marketing_email")).one()
        factories.record(s, now, contact, email, ConsentState.REFUSED, now)
    with pytest.raises(RuntimeError, match=r"scheme v[23]"):
        command.downgrade(alembic_config(url), BEFORE)
