"""Local patron-saint days: imported per contact, and a city's calls wait for the next day."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import Contact, WaveRequest
from reconsent.db import unit_of_work
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.imports import import_contacts
from reconsent.imports.rows import CONTACT_COLUMNS
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel
from reconsent.planning.planner import plan_wave
from reconsent.settings import Settings
from tests.conftest import make_settings
from tests.support import factories
from tests.support.fakes import RecordingAdapter, adapters

TORINO, ROMA = "001272", "058091"
#: Thursday 24 June 2027, 10:00 in Italy: San Giovanni, Turin's patron saint.
SAN_GIOVANNI = datetime(2027, 6, 24, 8, 0, tzinfo=UTC)
#: Friday 25 June, 09:00 in Italy: the next opening for Turin.
NEXT_MORNING = datetime(2027, 6, 25, 7, 0, tzinfo=UTC)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_contacts_import_the_municipality_code_checked_per_row(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    header = [*CONTACT_COLUMNS, "municipality"]
    rows = [
        ["M-1", "Ada", "Neri", "ada@example.it", "", "it", "Europe/Rome", "015146"],
        ["M-2", "Bea", "Neri", "bea@example.it", "", "it", "Europe/Rome", "1272"],  # Excel
        ["M-3", "Cloe", "Neri", "cloe@example.it", "", "it", "Europe/Rome", "Torino"],
        ["M-4", "Dino", "Neri", "dino@example.it", "", "it", "Europe/Rome", ""],
    ]
    report = import_contacts(engine, write_csv(tmp_path / "a.csv", header, rows), settings, now)
    assert (report.created, [(e.line, e.reason) for e in report.errors]) == (
        3,
        [
            (
                4,
                "municipality: 'Torino' is not an ISTAT municipality code "
                "(six digits, e.g. 015146 for Milano)",
            )
        ],
    )
    # A file without the column leaves the stored codes alone; one with it updates them.
    without = [row[:7] for row in rows if row[0] != "M-3"]
    again = import_contacts(
        engine, write_csv(tmp_path / "b.csv", list(CONTACT_COLUMNS), without), settings, now
    )
    assert (again.unchanged, again.updated) == (3, 0)
    moved = [[*rows[0][:7], "058091"]]
    assert (
        import_contacts(engine, write_csv(tmp_path / "c.csv", header, moved), settings, now).updated
        == 1
    )
    with unit_of_work(engine) as session:
        stored = {
            external_id: code
            for external_id, code in session.execute(
                select(Contact.external_id, Contact.municipality)
            )
        }
    assert stored == {"M-1": ROMA, "M-2": TORINO, "M-4": None}


def _ivr_wave(engine: Engine, now: datetime) -> tuple[int, dict[str, int]]:
    """Two people who consented to calls, one in Turin and one in Rome; an IVR-only wave."""
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        for name, phone, municipality in (
            ("turin", "+393331110001", TORINO),
            ("rome", "+393331110002", ROMA),
            ("nowhere", "+393331110003", None),
        ):
            contact = factories.add_contact(
                s, now, name, email=f"{name}@example.it", phone=phone, municipality=municipality
            )
            factories.consent_to_channels(
                s, now, contact, purposes, now - timedelta(days=800), (Channel.IVR,)
            )
            ids[name] = contact.id
        wave = factories.add_wave(
            s,
            now,
            purposes=["marketing_phone"],
            lawful_basis={},
            steps=[{"channel": "ivr", "wait": "1d"}],
            quiet_hours={"ivr": "it-telemarketing"},
        )
        plan_wave(s, wave, now)
        return wave.id, ids


def _called(fakes: dict[Channel, RecordingAdapter], engine: Engine) -> set[str]:
    numbers = [m.to for m in fakes[Channel.IVR].sent]
    with unit_of_work(engine) as s:
        return set(s.scalars(select(Contact.external_id).where(Contact.phone.in_(numbers))))


def _next_action(engine: Engine, contact_id: int) -> datetime:
    with unit_of_work(engine) as s:
        return s.scalars(
            select(WaveRequest.next_action_at).where(WaveRequest.contact_id == contact_id)
        ).one()


def test_an_ivr_wave_waits_out_a_city_patron_day_for_that_city_only(
    engine: Engine, tmp_path: Path, db_url: str
) -> None:
    clock = FixedClock(SAN_GIOVANNI)
    wave_id, ids = _ivr_wave(engine, clock.now())
    fakes = adapters()
    dispatcher = Dispatcher(engine, make_settings(tmp_path, db_url), fakes)
    for lo, hi in dispatcher.due_ranges(wave_id, clock.now(), 100):
        dispatcher.advance(wave_id, lo, hi, clock.now())
    assert _called(fakes, engine) == {"rome", "nowhere"}
    assert _next_action(engine, ids["turin"]) == NEXT_MORNING

    clock.set(NEXT_MORNING)
    for lo, hi in dispatcher.due_ranges(wave_id, clock.now(), 100):
        dispatcher.advance(wave_id, lo, hi, clock.now())
    assert _called(fakes, engine) == {"rome", "nowhere", "turin"}


@pytest.mark.parametrize("override", [{ROMA: ["06-24"]}])
def test_a_configured_day_holds_a_city_calls_too(
    engine: Engine, tmp_path: Path, db_url: str, override: dict[str, list[str]]
) -> None:
    clock = FixedClock(SAN_GIOVANNI)
    wave_id, ids = _ivr_wave(engine, clock.now())
    fakes = adapters()
    settings = make_settings(tmp_path, db_url, patron_days=override)
    dispatcher = Dispatcher(engine, settings, fakes)
    for lo, hi in dispatcher.due_ranges(wave_id, clock.now(), 100):
        dispatcher.advance(wave_id, lo, hi, clock.now())
    assert _called(fakes, engine) == {"nowhere"}
    assert _next_action(engine, ids["rome"]) == NEXT_MORNING
