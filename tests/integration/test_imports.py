"""CSV imports against real SQLite and PostgreSQL: contacts, consent history, suppressions."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from models import ConsentEvent, ConsentStatus, Contact, Notice, Suppression
from reconsent.campaigns.catalog_file import load_catalog
from reconsent.db import session_factory, unit_of_work
from reconsent.imports import ImportReport, import_consents, import_contacts, import_suppressions
from reconsent.imports.rows import CONSENT_COLUMNS, CONTACT_COLUMNS, SUPPRESSION_COLUMNS
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ConfigError
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    ConsentState,
    SuppressionReason,
)
from reconsent.settings import Settings
from tests.support.evidence import opened

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = b"test-address-key"


def write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def counts(report: ImportReport) -> tuple[int, int, int, int, int, int]:
    total = report.created + report.updated + report.unchanged + report.duplicates
    assert report.read == total + len(report.errors)
    return (
        report.read,
        report.created,
        report.updated,
        report.unchanged,
        report.duplicates,
        len(report.errors),
    )


CONTACTS = [
    ["CRM-1", "Giulia", "Rossi", "Giulia.Rossi@Example.IT", "333 123 4567", "it-IT", "Europe/Rome"],
    ["CRM-2", "Oliver", "Smith", "", "07400 123456", "en", "Europe/London"],
    ["CRM-3", "Marco", "Bianchi", "marco@@example.it", "", "it", "Europe/Rome"],
    ["CRM-4", "Sara", "Greco", "sara.greco@example.it", "", "it", "Mars/Olympus"],
    ["CRM-1", "Giulia", "Rossi", "giulia@example.it", "", "it", "Europe/Rome"],
    ["", "Anna", "Neri", "anna@example.it", "", "it", "Europe/Rome"],
    ["CRM-5", "Luca", "Conti", "luca.conti@example.com", "", "de", "Europe/Berlin"],
    ["CRM-6", "Amelia", "Jones", "amelia@example.org", "", "en-GB", "Europe/London"],
]


def test_contacts_import_reports_bad_rows_by_line(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "contacts.csv", CONTACT_COLUMNS, CONTACTS)
    report = import_contacts(engine, path, settings, clock.now())
    assert counts(report) == (8, 3, 0, 0, 0, 5)
    assert [(e.line, e.reason.split(":")[0].split(" (")[0]) for e in report.errors] == [
        (4, "invalid email"),
        (5, "unknown timezone 'Mars/Olympus'"),
        (6, "duplicate external_id"),
        (7, "external_id is required"),
        (8, "unsupported locale 'de'"),
    ]
    assert "first on line 2" in report.errors[2].reason
    for error in report.errors:  # no personal data in the reasons
        assert "marco" not in error.reason and "example.it" not in error.reason
    with unit_of_work(engine) as session:
        giulia = session.scalars(select(Contact).where(Contact.external_id == "CRM-1")).one()
        oliver = session.scalars(select(Contact).where(Contact.external_id == "CRM-2")).one()
    assert giulia.email == "giulia.rossi@example.it" and giulia.phone == "+393331234567"
    assert giulia.email_hash == address_hash(KEY, AddressKind.EMAIL, "giulia.rossi@example.it")
    assert giulia.phone_hash == address_hash(KEY, AddressKind.PHONE, "+393331234567")
    assert (giulia.locale, giulia.timezone, giulia.created_at) == ("it", "Europe/Rome", clock.now())
    assert len(giulia.subject_id) == 36 and giulia.subject_id != oliver.subject_id
    assert (oliver.email, oliver.email_hash, oliver.phone) == (None, None, "+447400123456")


def test_contacts_reimport_changes_nothing_and_updates_only_changes(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "contacts.csv", CONTACT_COLUMNS, CONTACTS)
    first = import_contacts(session_factory(engine), path, settings, clock.now())
    clock.advance(timedelta(days=1))
    again = import_contacts(engine, path, settings, clock.now())
    assert counts(again) == (8, 0, 0, 3, 0, 5)
    assert again.errors == first.errors
    changed = [
        list(CONTACTS[0]),
        list(CONTACTS[1]),
        ["CRM-7", "", "", "new@example.com", "", "it", "UTC"],
    ]
    changed[0][3] = ""  # the CRM dropped the email: the import clears it
    changed[1][6] = "Europe/Dublin"
    path = write_csv(tmp_path / "changed.csv", CONTACT_COLUMNS, changed)
    report = import_contacts(engine, path, settings, clock.now())
    assert counts(report) == (3, 1, 2, 0, 0, 0)
    with unit_of_work(engine) as session:
        giulia = session.scalars(select(Contact).where(Contact.external_id == "CRM-1")).one()
        amelia = session.scalars(select(Contact).where(Contact.external_id == "CRM-6")).one()
        assert session.scalar(select(func.count()).select_from(Contact)) == 4
    assert (giulia.email, giulia.email_hash, giulia.phone) == (None, None, "+393331234567")
    assert giulia.updated_at == clock.now() and giulia.created_at == clock.now() - timedelta(days=1)
    assert amelia.updated_at == amelia.created_at


def test_erased_contact_is_never_reidentified(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "contacts.csv", CONTACT_COLUMNS, CONTACTS[:2])
    import_contacts(engine, path, settings, clock.now())
    with unit_of_work(engine) as session:
        session.execute(
            update(Contact)
            .where(Contact.external_id == "CRM-1")
            .values(
                given_name=None, family_name=None, email=None, phone=None, erased_at=clock.now()
            )
        )
    report = import_contacts(engine, path, settings, clock.now())
    assert counts(report) == (2, 0, 0, 1, 0, 1)
    assert (
        report.errors[0].line == 2 and "erased at the person's request" in report.errors[0].reason
    )
    with unit_of_work(engine) as session:
        erased = session.scalars(select(Contact).where(Contact.external_id == "CRM-1")).one()
    assert erased.email is None and erased.given_name is None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            ["external_id", "given_name", "family_name", "email", "phone", "locale"],
            "missing column(s): timezone",
        ),
        ([*CONTACT_COLUMNS, "notes", "vip"], "unexpected column(s): notes, vip"),
    ],
)
def test_bad_header_imports_nothing(
    engine: Engine,
    settings: Settings,
    clock: FixedClock,
    tmp_path: Path,
    header: list[str],
    message: str,
) -> None:
    rows = [row + ["x"] * (len(header) - len(row)) for row in (r[: len(header)] for r in CONTACTS)]
    path = write_csv(tmp_path / "contacts.csv", header, rows)
    with pytest.raises(ConfigError, match=r"contacts\.csv") as info:
        import_contacts(engine, path, settings, clock.now())
    assert message in str(info.value)
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_excel_bom_blank_lines_and_multiline_fields(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffexternal_id,given_name,family_name,email,phone,locale,timezone\r\n"
        'CRM-1,"Anna\r\nMaria",Rossi,,,it,Europe/Rome\r\n'
        ",,,,,,\r\n"
        "\r\n"
        "CRM-2,Luca,,bad@@example.it,,it,Europe/Rome\r\n"
        "CRM-3,Luca,Verdi,,,it\r\n".encode()
    )
    report = import_contacts(engine, path, settings, clock.now())
    # A quoted field over two lines is read as one (line numbers count both), but a line
    # break inside a name is refused: it would break every message that carries the name.
    assert counts(report) == (3, 0, 0, 0, 0, 3)
    assert [(e.line, e.reason[:13]) for e in report.errors] == [
        (2, "given_name ho"),
        (6, "invalid email"),
        (7, "expected 7 fi"),
    ]


def catalog(engine: Engine, settings: Settings, now: datetime) -> None:
    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, now)


def base(engine: Engine, settings: Settings, now: datetime, tmp_path: Path) -> None:
    catalog(engine, settings, now)
    contacts = [CONTACTS[0], CONTACTS[1], ["CRM-9", "Erased", "", "", "", "it", "Europe/Rome"]]
    import_contacts(engine, write_csv(tmp_path / "c.csv", CONTACT_COLUMNS, contacts), settings, now)
    with unit_of_work(engine) as session:
        session.execute(update(Contact).where(Contact.external_id == "CRM-9").values(erased_at=now))


CONSENTS = [
    ["CRM-1", "marketing_email", "given", "2024-02-01", "2024-01", "email", "salesforce", ""],
    [
        "CRM-1",
        "marketing_email",
        "withdrawn",
        "2026-06-01T12:00:00+02:00",
        "2024-01",
        "",
        "salesforce",
        "ticket-77",
    ],
    [
        "CRM-1",
        "marketing_sms",
        "given",
        "2026-10-01 09:00",
        "2026-09",
        "sms",
        "salesforce",
        "webform-1",
    ],
    [
        "CRM-2",
        "marketing_email",
        "given",
        "2026-10-02T10:00:00Z",
        "2026-09",
        "",
        "hubspot",
        "https://docs.example.com/a.pdf",
    ],
    ["CRM-2", "profiling", "refused", "2025-01-01", "2025-07", "", "hubspot", ""],
    [
        "CRM-1",
        "marketing_email",
        "given",
        "2024-02-01T00:00:00Z",
        "2024-01",
        "EMAIL",
        "salesforce",
        "",
    ],
    ["CRM-404", "marketing_email", "given", "2024-02-01", "", "", "salesforce", ""],
    ["CRM-1", "marketing_fax", "given", "2024-02-01", "", "", "salesforce", ""],
    ["CRM-1", "marketing_sms", "given", "2027-01-01", "", "", "salesforce", ""],
    ["CRM-9", "marketing_sms", "given", "2024-01-01", "", "", "salesforce", ""],
    ["CRM-1", "marketing_sms", "perhaps", "2024-01-01", "", "", "salesforce", ""],
]


def test_consents_import_appends_imported_events(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    base(engine, settings, now, tmp_path)
    path = write_csv(tmp_path / "history.csv", [*CONSENT_COLUMNS, "evidence_ref"], CONSENTS)
    report = import_consents(engine, path, settings, now)
    assert counts(report) == (11, 4, 0, 0, 1, 6)
    assert [(e.line, e.reason[:16]) for e in report.errors] == [
        (6, "notice_version '"),
        (8, "unknown external"),
        (9, "unknown purpose "),
        (10, "captured_at '202"),
        (11, "contact was eras"),
        (12, "invalid state 'p"),
    ]
    with unit_of_work(engine) as session:
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        notices = {(n.version, n.locale): n for n in session.scalars(select(Notice))}
        status = {(s.contact_id, s.purpose_id): s for s in session.scalars(select(ConsentStatus))}
        giulia = session.scalars(select(Contact).where(Contact.external_id == "CRM-1")).one()
    assert {(e.method, e.actor, e.recorded_at) for e in events} == {
        (CollectionMethod.IMPORTED, "import", now)
    }
    by_line = {e.evidence["line"]: e for e in events}
    assert set(by_line) == {2, 3, 4, 5}  # line 6 cites a notice never published
    given, withdrawn, sms = by_line[2], by_line[3], by_line[4]
    assert given.evidence == {"import_file": "history.csv", "line": 2} and not given.provable
    assert opened(engine, withdrawn)["evidence_ref"] == "ticket-77" and withdrawn.provable
    assert withdrawn.occurred_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert (given.channel, given.source, given.language) == (Channel.EMAIL, "salesforce", "it")
    assert (given.notice_id, given.notice_digest) == (
        notices["2024-01", "it"].id,
        notices["2024-01", "it"].digest,
    )
    assert by_line[5].notice_id == notices["2026-09", "en"].id  # the contact's language
    assert sms.occurred_at == datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    assert given.expires_at is not None and withdrawn.expires_at is None
    # one chain per subject, in captured_at order within the batch
    assert withdrawn.prev_hash == given.hash and sms.prev_hash == withdrawn.hash
    assert status[giulia.id, withdrawn.purpose_id].state is ConsentState.WITHDRAWN


def test_consents_reimport_and_reordered_file_append_nothing(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    base(engine, settings, now, tmp_path)
    header = [*CONSENT_COLUMNS, "evidence_ref"]
    import_consents(engine, write_csv(tmp_path / "a.csv", header, CONSENTS), settings, now)
    clock.advance(timedelta(days=30))
    again = import_consents(engine, write_csv(tmp_path / "a.csv", header, CONSENTS), settings, now)
    assert counts(again) == (11, 0, 0, 4, 1, 6)
    shuffled = list(reversed(CONSENTS[:6]))
    shuffled[0] = [*shuffled[0][:6], " salesforce ", ""]  # spelling differs, fact does not
    report = import_consents(
        engine, write_csv(tmp_path / "b.csv", header, shuffled), settings, clock.now()
    )
    assert counts(report) == (6, 0, 0, 4, 1, 1)
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 4


def test_consents_without_evidence_column(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    base(engine, settings, now, tmp_path)
    rows = [row[:7] for row in CONSENTS[:3]]
    report = import_consents(
        engine, write_csv(tmp_path / "a.csv", CONSENT_COLUMNS, rows), settings, now
    )
    assert counts(report) == (3, 3, 0, 0, 0, 0)
    with unit_of_work(engine) as session:
        assert not any(session.scalars(select(ConsentEvent.provable)))


SUPPRESSIONS = [
    ["Mario.Rossi@Example.IT", "email", "bounce", "old-esp"],
    ["333 123 4567", "all", "rpo", "rpo-2026-11"],
    ["+393331234567", "sms", "stop", "old-sms"],
    ["mario.rossi@example.it", "email", "bounce", "old-esp-2"],
    ["mario.rossi@example.it", "sms", "bounce", "old-esp"],
    ["+39 333 123 4567", "ivr", "sneeze", "x"],
]


def test_suppressions_store_only_hashes_and_reimport_is_idempotent(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "suppress.csv", SUPPRESSION_COLUMNS, SUPPRESSIONS)
    report = import_suppressions(engine, path, settings, clock.now())
    assert counts(report) == (6, 3, 0, 0, 1, 2)
    assert [e.line for e in report.errors] == [6, 7]
    with unit_of_work(engine) as session:
        rows = session.scalars(select(Suppression).order_by(Suppression.id)).all()
    phone = address_hash(KEY, AddressKind.PHONE, "+393331234567")
    assert [(r.address_hash, r.channel, r.reason, r.source) for r in rows] == [
        (
            address_hash(KEY, AddressKind.EMAIL, "mario.rossi@example.it"),
            Channel.EMAIL,
            SuppressionReason.BOUNCE,
            "old-esp",
        ),
        (phone, None, SuppressionReason.RPO, "rpo-2026-11"),
        (phone, Channel.SMS, SuppressionReason.STOP, "old-sms"),
    ]
    assert all(r.contact_id is None and r.created_at == clock.now() for r in rows)
    again = import_suppressions(engine, path, settings, clock.now())
    assert counts(again) == (6, 0, 0, 3, 1, 2)
