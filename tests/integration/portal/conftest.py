"""Portal fixtures: a seeded wave request, a link signer on the test clock, a client,
and ``db``, a small reader of what the portal recorded."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient and warns once, at import, when it
    # falls back to httpx (the project's pinned client); the client works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from consent_portal.app import create_app
from models import ConsentEvent, Suppression, Wave, WaveRequest, suppression_in_force
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner
from reconsent.settings import Settings
from tests.support import factories

BASE_URL = "http://portal.test"
#: The address of every seeded contact (requests are seeded, never planned, here).
EMAIL, PHONE = "x@example.com", "+393331234567"


@dataclass(frozen=True)
class Seeded:
    request_id: int
    contact_id: int
    wave_id: int
    purposes: tuple[str, ...]


class Db:
    """Seeds requests and reads back events, suppressions and requests."""

    def __init__(self, engine: Engine, clock: FixedClock) -> None:
        self.engine = engine
        self.clock = clock

    def seed(
        self, external_id: str = "c1", *, locale: str = "it", email: str = EMAIL, phone: str = PHONE
    ) -> Seeded:
        now = self.clock.now()
        with unit_of_work(self.engine) as session:
            wave = session.scalars(select(Wave)).first()
            if wave is None:
                factories.add_catalog(session, now)
                wave = factories.add_wave(session, now)
            contact = factories.add_contact(
                session, now, external_id, email=email, phone=phone, locale=locale
            )
            request = factories.add_request(session, now, wave, contact)
            return Seeded(request.id, contact.id, wave.id, tuple(wave.config["purposes"]))

    def events(self) -> list[ConsentEvent]:
        with unit_of_work(self.engine) as session:
            return list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))

    def suppressions(self) -> list[Suppression]:
        """The suppressions in force (a lifted one stays in the table, as history)."""
        with unit_of_work(self.engine) as session:
            query = select(Suppression).where(suppression_in_force()).order_by(Suppression.id)
            return list(session.scalars(query))

    def request(self, request_id: int) -> WaveRequest:
        with unit_of_work(self.engine) as session:
            found = session.get(WaveRequest, request_id)
            assert found is not None
            return found


@pytest.fixture
def db(engine: Engine, clock: FixedClock) -> Db:
    return Db(engine, clock)


@pytest.fixture
def seeded(db: Db) -> Seeded:
    return db.seed()


@pytest.fixture
def signer(settings: Settings, clock: FixedClock) -> LinkSigner:
    return LinkSigner(settings.link_signing_keys(), clock=clock)


@pytest.fixture
def client(settings: Settings, clock: FixedClock, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock, engine=engine), base_url=BASE_URL) as c:
        yield c
