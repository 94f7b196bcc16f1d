"""Notices take effect on a date: imports never cite one before (or one never published),
the catalog publishes the date once, and a wave never shows a notice before it."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from models import ConsentEvent, ConsentStatus, Contact, Notice
from reconsent.campaigns.catalog_file import CatalogReport, load_catalog
from reconsent.campaigns.waves import create_wave
from reconsent.db import unit_of_work
from reconsent.imports import import_consents, import_contacts
from reconsent.imports.rows import CONSENT_COLUMNS, CONTACT_COLUMNS
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError, ImmutableError
from reconsent.kernel.vocab import ConsentState
from reconsent.settings import Settings
from tests.support.factories import wave_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEPT_2026 = datetime(2026, 9, 1, tzinfo=UTC)
JAN_2024 = datetime(2024, 1, 1, tzinfo=UTC)


def write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLES, target)
    return target


def load(engine: Engine, path: Path, settings: Settings, now: datetime) -> CatalogReport:
    with unit_of_work(engine) as session:
        return load_catalog(session, path, settings, now)


def effective(engine: Engine) -> dict[tuple[str, str], datetime]:
    with unit_of_work(engine) as session:
        return {(n.version, n.locale): n.effective_from for n in session.scalars(select(Notice))}


CONTACTS = [
    ["CRM-1", "Giulia", "Rossi", "giulia@example.it", "+39 333 123 4567", "it", "Europe/Rome"],
    ["CRM-2", "Oliver", "Smith", "oliver@example.org", "07400 123456", "en", "Europe/London"],
    ["CRM-3", "Marco", "Bianchi", "marco@example.it", "", "it", "Europe/Rome"],
]
HISTORY = [
    # line 2: a version that was never published
    ["CRM-1", "marketing_email", "given", "2026-10-01", "2025-07", "", "crm", "form-1"],
    # line 3: one second before 2026-09 took effect
    ["CRM-1", "marketing_sms", "given", "2026-08-31T23:59:59Z", "2026-09", "", "crm", "form-2"],
    # line 4: the day it took effect (a date alone is midnight UTC): stored
    ["CRM-1", "marketing_sms", "given", "2026-09-01", "2026-09", "sms", "crm", "form-3"],
    # line 5: the very moment, written with an offset: stored
    ["CRM-2", "marketing_email", "given", "2026-09-01T02:00:00+02:00", "2026-09", "", "crm", "f4"],
    # line 6: a refusal under a notice not yet in effect: refused too, and says so
    ["CRM-2", "marketing_sms", "refused", "2023-06-01", "2024-01", "", "crm", ""],
    # line 7: no version cited: imported as before
    ["CRM-2", "marketing_phone", "given", "2023-06-01", "", "", "crm", "form-5"],
    # line 8: the old notice, still citable after the new one took effect
    ["CRM-1", "marketing_phone", "given", "2026-10-15", "2024-01", "", "crm", "form-6"],
    # line 9: the only record of CRM-3, a "fresh" consent under a notice not yet in effect
    ["CRM-3", "marketing_email", "given", "2026-08-20", "2026-09", "", "crm", "form-7"],
]


def test_import_refuses_rows_citing_a_notice_not_published_or_not_yet_in_effect(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    load(engine, EXAMPLES / "catalog.toml", settings, now)
    import_contacts(engine, write_csv(tmp_path / "c.csv", CONTACT_COLUMNS, CONTACTS), settings, now)
    path = write_csv(tmp_path / "h.csv", [*CONSENT_COLUMNS, "evidence_ref"], HISTORY)

    report = import_consents(engine, path, settings, now)

    assert (report.read, report.created, len(report.errors)) == (8, 4, 4)
    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == [2, 3, 6, 9]
    assert reasons[2].startswith("notice_version '2025-07' was never published")
    assert reasons[3] == (
        "captured_at 2026-08-31T23:59:59Z is before notice 2026-09 took effect (2026-09-01): "
        "nobody can have been shown it then; cite the version in effect at the time"
    )
    assert "before notice 2024-01 took effect (2024-01-01)" in reasons[6]
    assert reasons[6].endswith("(this refused is not recorded until then)")
    assert "before notice 2026-09" in reasons[9]
    with unit_of_work(engine) as session:
        lines = {e.evidence["line"]: e for e in session.scalars(select(ConsentEvent))}
        marco = session.scalars(select(Contact.id).where(Contact.external_id == "CRM-3")).one()
        marco_status = session.scalar(select(func.count()).where(ConsentStatus.contact_id == marco))
    assert sorted(lines) == [4, 5, 7, 8]  # nothing at all for the refused rows
    assert lines[4].occurred_at == SEPT_2026 and lines[4].notice_version == "2026-09"
    assert lines[5].occurred_at == SEPT_2026 and lines[5].notice_id is not None
    assert lines[7].notice_version is None and lines[7].state is ConsentState.GIVEN
    assert lines[8].notice_version == "2024-01"
    assert marco_status == 0  # no consent to count as fresh: CRM-3 has no record at all

    again = import_consents(engine, path, settings, now)
    assert (again.created, again.unchanged, len(again.errors)) == (0, 4, 4)


def test_effective_from_is_published_once_and_never_changes(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    catalog = catalog_dir / "catalog.toml"
    load(engine, catalog, settings, clock.now())
    assert effective(engine) == {
        ("2024-01", "it"): JAN_2024,
        ("2024-01", "en"): JAN_2024,
        ("2026-09", "it"): SEPT_2026,
        ("2026-09", "en"): SEPT_2026,
    }
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("effective_from = 2026-09-01", "effective_from = 2026-09-02"))
    with pytest.raises(ImmutableError, match=r"notice 2026-09 .*taking effect 2026-09-01; "):
        load(engine, catalog, settings, clock.now())

    # Left out later: the published date stays. A new version without one: its publish
    # time; with an offset date-time: that moment in UTC.
    later = clock.advance(timedelta(days=1))
    catalog.write_text(
        text.replace("effective_from = 2026-09-01\n", "")
        + _version("2027-01", "effective_from = 2027-01-01T00:00:00+01:00")
        + _version("2026-12", "")
    )
    report = load(engine, catalog, settings, later)
    assert report.notices_created == ["2027-01/it", "2027-01/en", "2026-12/it", "2026-12/en"]
    dates = effective(engine)
    assert dates["2026-09", "it"] == SEPT_2026
    assert dates["2027-01", "en"] == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert dates["2026-12", "it"] == later
    with unit_of_work(engine) as session:
        published = session.scalars(select(Notice.published_at).distinct()).all()
    assert sorted(published) == [clock.at, later]


def test_a_wave_cannot_show_a_notice_before_it_takes_effect(
    engine: Engine, settings: Settings, clock: FixedClock, catalog_dir: Path
) -> None:
    catalog = catalog_dir / "catalog.toml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text + _version("2027-01", "effective_from = 2027-01-01"))
    load(engine, catalog, settings, clock.now())
    config = wave_config(notice_version="2027-01")
    with (
        pytest.raises(ConfigError, match=r"'2027-01' takes effect on 2027-01-01: a wave can"),
        unit_of_work(engine) as session,
    ):
        create_wave(session, config, clock.now())
    with unit_of_work(engine) as session:
        wave = create_wave(session, config, datetime(2027, 1, 1, tzinfo=UTC))
        assert wave.notice_version == "2027-01"


def _version(version: str, extra: str) -> str:
    return (
        f'\n[[notices]]\nversion = "{version}"\ntitle = {{ it = "Informativa", en = "Notice" }}\n'
        'templates = { it = "notices/2026-09.it.html.j2", en = "notices/2026-09.en.html.j2" }\n'
        f"{extra}\n"
    )
