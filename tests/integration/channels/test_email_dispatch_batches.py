"""Must hold: 2,500 email requests go out through the dispatcher in 3 SendGrid calls (real SDK,
emulated SendGrid), each link distinct and valid; a 429 with Retry-After is waited out, inside
the send or by a later tick, and nothing is sent twice."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from channels.sendgrid_email import SendGridEmail
from models import Contact, SendAttempt
from reconsent.db import make_engine, unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, AttemptStatus, Channel
from reconsent.planning.planner import plan_wave
from reconsent.settings import Settings
from tests.conftest import make_settings
from tests.support import factories
from tests.support.fakes import adapters

KEY = "SG.test-key"
PEOPLE = 2500


@pytest.fixture
def dsettings(tmp_path: Path, db_url: str, sendgrid_url: str) -> Settings:
    # One dispatch batch fills one SendGrid request (1,000 personalizations).
    return make_settings(tmp_path, db_url, dispatch_batch_size=1000, sendgrid_api_host=sendgrid_url)


@pytest.fixture
def lite(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Engine, Settings]]:
    """The retry paths on SQLite only (the batching test above runs on both databases)."""
    engine = make_engine(sqlite_url)
    yield engine, make_settings(tmp_path, sqlite_url, dispatch_batch_size=1000)
    engine.dispose()


def _wave(engine: Engine, clock: FixedClock) -> int:
    """2,500 customers with no consent record, asked by email under a declared basis."""
    now = clock.now()
    rows: list[dict[str, Any]] = [
        {
            "external_id": f"c{i}",
            "subject_id": str(uuid.uuid4()),
            "given_name": f"Person {i}",
            "family_name": "Rossi",
            "email": f"person{i}@example.it",
            "email_hash": address_hash(
                factories.ADDRESS_KEY, AddressKind.EMAIL, f"person{i}@example.it"
            ),
            "locale": "it",
            "timezone": "Europe/Rome",
            "customer_since": date(2024, 1, 15),  # soft spam needs a sale on record
            "created_at": now,
            "updated_at": now,
        }
        for i in range(PEOPLE)
    ]
    with unit_of_work(engine) as session:
        factories.add_catalog(session, now)
        session.execute(insert(Contact), rows)
        wave = factories.add_wave(session, now)
        assert plan_wave(session, wave, now).created == PEOPLE
        return wave.id


def _tick(
    engine: Engine, settings: Settings, email: SendGridEmail, wave: int, at: datetime
) -> None:
    dispatcher = Dispatcher(engine, settings, {**adapters(), Channel.EMAIL: email})
    for lo, hi in dispatcher.due_ranges(wave, at, settings.dispatch_batch_size):
        dispatcher.advance(wave, lo, hi, at)


def _accepted_personalizations(sendgrid: SendGridEmulator) -> list[dict[str, Any]]:
    return [p for r in sendgrid.accepted() for p in r.body["personalizations"]]


def _assert_each_sent_once_with_a_valid_link(
    engine: Engine, settings: Settings, sendgrid: SendGridEmulator
) -> None:
    personalizations = _accepted_personalizations(sendgrid)
    per_attempt = Counter(p["custom_args"]["attempt_id"] for p in personalizations)
    with unit_of_work(engine) as session:
        attempts = list(session.scalars(select(SendAttempt)))
    assert len(attempts) == PEOPLE
    assert {a.status for a in attempts} == {AttemptStatus.SENT}
    assert per_attempt == Counter({str(a.id): 1 for a in attempts})  # nothing sent twice
    signer = LinkSigner(settings.link_signing_keys())
    links = [p["substitutions"]["-link-"] for p in personalizations]
    assert len(set(links)) == PEOPLE
    for p, link in zip(personalizations, links, strict=True):
        base, _, token = link.rpartition("/c/")
        payload = signer.verify(LinkUse.LANDING, token, None)
        assert base == settings.portal_base_url
        assert (payload.request_id, payload.step_index) == (int(p["custom_args"]["request_id"]), 0)
        assert set(p["custom_args"]) == {"request_id", "attempt_id"}  # ids only


def test_2500_requests_go_out_in_three_sendgrid_calls_with_distinct_valid_links(
    engine: Engine,
    clock: FixedClock,
    dsettings: Settings,
    sendgrid: SendGridEmulator,
    sendgrid_url: str,
    sleeps: list[float],
) -> None:
    wave = _wave(engine, clock)
    email = SendGridEmail(KEY, sendgrid_url, sleep=sleeps.append)

    _tick(engine, dsettings, email, wave, clock.now())
    _tick(engine, dsettings, email, wave, clock.now())  # a second tick sends nothing more

    assert [len(r.body["personalizations"]) for r in sendgrid.requests] == [1000, 1000, 500]
    assert all(r.accepted for r in sendgrid.requests) and sleeps == []
    _assert_each_sent_once_with_a_valid_link(engine, dsettings, sendgrid)


def test_a_short_retry_after_is_waited_out_inside_the_send(
    lite: tuple[Engine, Settings],
    clock: FixedClock,
    sendgrid: SendGridEmulator,
    sendgrid_url: str,
    sleeps: list[float],
) -> None:
    engine, dsettings = lite
    wave = _wave(engine, clock)
    sendgrid.fail_next(429, retry_after=2)
    email = SendGridEmail(KEY, sendgrid_url, sleep=sleeps.append)

    _tick(engine, dsettings, email, wave, clock.now())

    assert [r.status for r in sendgrid.requests] == [429, 202, 202, 202]
    assert sleeps == [2.0]
    _assert_each_sent_once_with_a_valid_link(engine, dsettings, sendgrid)


def test_a_long_retry_after_is_waited_out_by_a_later_tick(
    lite: tuple[Engine, Settings],
    clock: FixedClock,
    sendgrid: SendGridEmulator,
    sendgrid_url: str,
    sleeps: list[float],
) -> None:
    engine, dsettings = lite
    wave = _wave(engine, clock)
    sendgrid.fail_next(429, retry_after=90)  # longer than the adapter waits inline (5 s)
    email = SendGridEmail(KEY, sendgrid_url, sleep=sleeps.append)

    _tick(engine, dsettings, email, wave, clock.now())
    with unit_of_work(engine) as session:
        retrying = list(
            session.scalars(select(SendAttempt).where(SendAttempt.status == AttemptStatus.RETRY))
        )
    assert len(retrying) == 1000 and sleeps == []
    assert {a.next_retry_at for a in retrying} == {clock.now() + timedelta(seconds=90)}
    clock.advance(timedelta(seconds=60))
    _tick(engine, dsettings, email, wave, clock.now())  # Retry-After not over: nothing
    assert len(sendgrid.accepted()) == 2
    clock.advance(timedelta(seconds=30))
    _tick(engine, dsettings, email, wave, clock.now())

    assert [r.status for r in sendgrid.requests] == [429, 202, 202, 202]
    _assert_each_sent_once_with_a_valid_link(engine, dsettings, sendgrid)
