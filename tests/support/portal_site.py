"""The real consent portal served by uvicorn on 127.0.0.1, on a seeded SQLite database.

Used by the browser tests and by ``scripts/screenshots.py``.  The catalog and
the wave are the examples the README shows (``examples/catalog.toml``,
``examples/wave.toml``); two people are asked: Giulia (Italian) and Oliver
(English).  The portal's clock is fixed, so pages and screenshots are stable.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from consent_portal.app import create_app
from reconsent.campaigns.catalog_file import load_catalog
from reconsent.campaigns.waves import create_wave
from reconsent.db import make_engine, unit_of_work, upgrade
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.waveconfig import load_wave_config
from reconsent.settings import ChannelMode, Settings
from tests.support import factories

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: A Tuesday morning in Rome.
SITE_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    contact_id: int
    request_id: int
    subject_id: str


@dataclass(frozen=True)
class Site:
    base_url: str
    engine: Engine
    settings: Settings
    clock: FixedClock
    people: dict[str, Person]

    def link(self, who: str, *, age: timedelta = timedelta(0), step: int = 0) -> str:
        """A landing link for ``who``, issued ``age`` ago (15 days: expired)."""
        signer = LinkSigner(
            self.settings.link_signing_keys(), clock=FixedClock(self.clock.now() - age)
        )
        token = signer.sign(LinkUse.LANDING, self.people[who].request_id, step)
        return f"{self.base_url}/c/{token}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(engine: Engine, settings: Settings, now: datetime) -> dict[str, Person]:
    people: dict[str, Person] = {}
    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, now)
        wave = create_wave(session, load_wave_config(EXAMPLES / "wave.toml"), now)
        for name, locale, given in (("giulia", "it", "Giulia"), ("oliver", "en", "Oliver")):
            contact = factories.add_contact(
                session,
                now,
                name,
                email=f"{name}@example.com",
                locale=locale,
                given_name=given,
                timezone="Europe/Rome" if locale == "it" else "Europe/London",
            )
            request = factories.add_request(session, now, wave, contact)
            people[name] = Person(contact.id, request.id, contact.subject_id)
    return people


@contextmanager
def running_site(database: Path, data_dir: Path) -> Iterator[Site]:
    """Migrate and seed ``database`` (a new SQLite file), then serve the portal on it."""
    url = f"sqlite:///{database}"
    upgrade(url)
    port = _free_port()
    # Raw input, as from the environment: Settings validates and coerces each value.
    values: dict[str, Any] = {
        "database_url": url,
        "data_dir": data_dir,
        "signing_keys": ["browser-key"],
        # The key the seeded contacts' hashes were made with: an address typed on the
        # home page is found by its hash.
        "address_hash_key": factories.ADDRESS_KEY.decode(),
        "evidence_key": "browser-evidence-key",
        "portal_base_url": f"http://127.0.0.1:{port}",
        "channel_mode": ChannelMode.OUTBOX,
        "controller_name": "Esempio Contact Centre S.r.l.",
        "controller_contact": "privacy@esempio.it",
    }
    settings = Settings(_env_file=None, **values)
    clock = FixedClock(SITE_NOW)
    engine = make_engine(url)
    try:
        people = _seed(engine, settings, clock.now())
        app = create_app(settings, clock=clock, engine=engine)
        with running_server(app, port=port) as base:
            yield Site(base, engine, settings, clock, people)
    finally:
        engine.dispose()
