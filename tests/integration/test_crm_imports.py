"""CRM files as they come, against real SQLite and PostgreSQL: the HubSpot and Salesforce
examples with their mappings, other delimiters and encodings, fatal errors mid-file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from models import ConsentEvent, Contact, Suppression
from reconsent.campaigns.catalog_file import load_catalog
from reconsent.db import make_engine, unit_of_work
from reconsent.imports import ImportReport, import_consents, import_contacts, import_suppressions
from reconsent.imports.csvfile import FileFormat
from reconsent.imports.mapping import load_mapping
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import ImportStopped
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, Channel, ConsentState, SuppressionReason
from reconsent.settings import Settings
from tests.support.postgres import owner_url

CRM = Path(__file__).resolve().parents[2] / "examples" / "crm"
KEY = b"test-address-key"
HEADER = "external_id,given_name,family_name,email,phone,locale,timezone"


def mapped(name: str, *columns: str) -> FileFormat:
    return FileFormat(mapping=load_mapping(CRM / name, columns))


def stored(engine: Engine) -> dict[str, Contact]:
    with unit_of_work(engine) as session:
        return {c.external_id: c for c in session.scalars(select(Contact).order_by(Contact.id))}


def suppressions(engine: Engine) -> set[tuple[str | None, Channel | None, SuppressionReason]]:
    with unit_of_work(engine) as session:
        return {(s.address_hash, s.channel, s.reason) for s in session.scalars(select(Suppression))}


def email(address: str) -> str:
    return address_hash(KEY, AddressKind.EMAIL, address)


def phone(number: str) -> str:
    return address_hash(KEY, AddressKind.PHONE, number)


def totals(report: ImportReport) -> tuple[int, int, int, int]:
    return report.read, report.created, report.unchanged, len(report.errors)


def test_hubspot_export_imports_with_its_mapping(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    fmt = mapped("hubspot-mapping.toml")
    report = import_contacts(engine, CRM / "hubspot-contacts.csv", settings, clock.now(), fmt)
    assert totals(report) == (4, 4, 0, 0) and report.suppressions == 1
    assert report.ignored_columns == [
        "Create Date", "Lifecycle Stage", "Contact owner", "Marketing contact status",
        "Country/Region",
    ]  # fmt: skip
    contacts = stored(engine)
    giulia, oliver, chiara, lucia = (contacts[i] for i in ("51", "52", "53", "54"))
    assert (giulia.given_name, giulia.family_name, giulia.email) == (
        "Giulia", "Rossi", "giulia.rossi@example.it",
    )  # fmt: skip
    assert giulia.phone == "+393331234567"  # the mobile, not the landline beside it
    assert chiara.phone == "+390287654321"  # no mobile: the landline
    assert (str(giulia.customer_since), oliver.customer_since) == ("2024-05-31", None)
    assert (lucia.given_name, lucia.family_name) == ("Lucía", "García")
    assert {c.locale for c in contacts.values()} == {"it"}  # the mapping's default
    # the phone's zone when its area keeps one clock; Spain has two: the default
    assert [c.timezone for c in (giulia, oliver, chiara, lucia)] == [
        "Europe/Rome", "Europe/London", "Europe/Rome", "Europe/Rome",
    ]  # fmt: skip
    # "Unsubscribed from all email" = true: e-mail suppressed, never read as a consent
    assert suppressions(engine) == {
        (email("chiara.esposito@example.it"), Channel.EMAIL, SuppressionReason.OBJECTION)
    }
    again = import_contacts(engine, CRM / "hubspot-contacts.csv", settings, clock.now(), fmt)
    assert totals(again) == (4, 0, 4, 0) and again.suppressions == 0


def test_salesforce_contacts_and_leads_reports_import_with_one_mapping(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    fmt = mapped("salesforce-mapping.toml")
    now = clock.now()
    contacts = import_contacts(engine, CRM / "salesforce-contacts.csv", settings, now, fmt)
    leads = import_contacts(engine, CRM / "salesforce-leads.csv", settings, now, fmt)
    assert totals(contacts) == (3, 3, 0, 0) and totals(leads) == (2, 2, 0, 0)
    assert contacts.ignored_columns == ["Account Name", "Mailing City", "Created Date"]
    assert leads.ignored_columns == ["Company", "Lead Source", "Lead Status"]
    people = stored(engine)
    marco, tom, paolo = (
        people[i] for i in ("0035g00000XyZ1aAAF", "0035g00000XyZ3cAAF", "00Q5g00000AbC2eEAF")
    )
    assert (marco.given_name, marco.family_name, marco.phone) == (
        "Marco",
        "Bianchi",
        "+393477654321",
    )
    assert (tom.email, tom.phone, tom.timezone) == (
        "tom.walker@example.co.uk", "+447400123457", "Europe/London",
    )  # fmt: skip
    assert (paolo.phone, paolo.timezone) == ("+390655551234", "Europe/Rome")  # the landline
    objection = SuppressionReason.OBJECTION
    assert suppressions(engine) == {
        # Marco: "Do Not Call" -> calls and SMS on his number; his e-mail stays open
        (phone("+393477654321"), Channel.IVR, objection),
        (phone("+393477654321"), Channel.SMS, objection),
        # Sara: "Email Opt Out"
        (email("sara.greco@example.it"), Channel.EMAIL, objection),
        # Paolo (a lead): both
        (email("paolo.conti@example.it"), Channel.EMAIL, objection),
        (phone("+390655551234"), Channel.IVR, objection),
        (phone("+390655551234"), Channel.SMS, objection),
    }
    assert contacts.suppressions + leads.suppressions == 6


def test_semicolon_cp1252_file_with_accented_names(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "excel-it.csv"
    path.write_bytes(
        (
            "external_id;given_name;family_name;email;phone;locale;timezone\r\n"
            "IT-1;Niccolò;D'Amico;niccolo@example.it;333 123 4567;it;Europe/Rome\r\n"
            "IT-2;Françoise;Lefèvre;;;it;Europe/Rome\r\n"
            'IT-3;"Zoë; detta ""Zo""";Müller €;;;it;Europe/Rome\r\n'
        ).encode("cp1252")
    )
    fmt = FileFormat(encoding="cp1252")
    report = import_contacts(engine, path, settings, clock.now(), fmt)
    assert totals(report) == (3, 3, 0, 0)
    people = stored(engine)
    assert [(p.given_name, p.family_name) for p in people.values()] == [
        ("Niccolò", "D'Amico"), ("Françoise", "Lefèvre"), ('Zoë; detta "Zo"', "Müller €"),
    ]  # fmt: skip


def test_cp1252_file_read_as_utf8_stops_at_the_first_accent_after_the_rows_before(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "excel-it.csv"
    path.write_bytes(
        (
            "external_id;given_name;family_name;email;phone;locale;timezone\r\n"
            "IT-1;Anna;Rossi;;;it;Europe/Rome\r\n"
            'IT-2;"Luca\r\nMaria";Verdi;;;it;Europe/Rome\r\n'
            "IT-3;Niccolò;D'Amico;;;it;Europe/Rome\r\n"
            "IT-4;Ugo;Neri;;;it;Europe/Rome\r\n"
        ).encode("cp1252")
    )
    with pytest.raises(ImportStopped) as info:
        import_contacts(engine, path, settings, clock.now())
    assert info.value.line == 5  # header, IT-1, IT-2 on two lines, then IT-3
    assert "line 5 is not valid utf-8" in str(info.value) and "Nicc" not in str(info.value)
    report = info.value.report
    assert isinstance(report, ImportReport) and report.stopped is not None
    assert totals(report) == (2, 1, 0, 1)  # IT-2's name holds a line break: refused
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "given_name holds control characters (U+000A, U+000D)")
    ]
    assert set(stored(engine)) == {"IT-1"}


@pytest.mark.parametrize("encoding", [None, "utf-16"])
def test_utf16_tab_file_as_excel_saves_unicode_text(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path, encoding: str | None
) -> None:
    path = tmp_path / "unicode.txt"
    rows = [HEADER.split(","), ["U-1", "Łukasz", "Żółć", "", "", "it", "Europe/Rome"]]
    path.write_bytes("\r\n".join("\t".join(r) for r in rows).encode("utf-16"))  # BOM first
    report = import_contacts(engine, path, settings, clock.now(), FileFormat(encoding=encoding))
    assert totals(report) == (1, 1, 0, 0)
    assert stored(engine)["U-1"].family_name == "Żółć"


def test_tab_file_and_column_override(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "export.tsv"
    path.write_text(
        "Record ID\tLegacy ID\tFirst Name\tLast Name\tEmail\tPhone Number\tMobile Phone Number"
        "\tCreate Date\tLifecycle Stage\tBecame a Customer Date\tUnsubscribed from all email\n"
        "51\tOLD-7\tGiulia\tRossi\tgiulia@example.it\t\t+39 333 123 4567\t2024-03-04\tLead\t\t\n",
        encoding="utf-8",
    )
    fmt = mapped("hubspot-mapping.toml", 'external_id="Legacy ID"')
    report = import_contacts(engine, path, settings, clock.now(), fmt)
    assert totals(report) == (1, 1, 0, 0)
    assert report.ignored_columns == ["Record ID", "Create Date", "Lifecycle Stage"]
    assert set(stored(engine)) == {"OLD-7"}


def _many_rows(count: int, boom: int | None = None) -> list[str]:
    rows = []
    for i in range(1, count + 1):
        # Row 3 spans two lines (lines 4-5): counted, and refused for its line break.
        given = '"Anna\nMaria"' if i == 3 else f"Name{i}"
        ident = "BOOM" if i == boom else f"C-{i}"
        rows.append(f"{ident},{given},Rossi,,,it,Europe/Rome\n")
    return rows


def test_broken_quote_at_the_end_stops_there_after_every_row_before(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    rows = _many_rows(2300)
    path.write_text(HEADER + "\n" + "".join(rows) + 'C-X,"Giulia,Rossi,,,it,Europe/Rome\n')
    with pytest.raises(ImportStopped) as info:
        import_contacts(engine, path, settings, clock.now())
    # header + 2,300 rows on 2,301 lines (row 3 has two): the broken row starts on 2,303
    assert info.value.line == 2303
    assert "a quoted field is never closed" in str(info.value) and "Giulia" not in str(info.value)
    # two batches committed and the third's 300 rows, but row 3 (its name's line break)
    assert len(stored(engine)) == 2299
    report = info.value.report
    assert isinstance(report, ImportReport)
    assert [(e.line, e.reason) for e in report.errors if e.line == 4] == [
        (4, "given_name holds control characters (U+000A)")
    ]


@pytest.fixture
def boom_trigger(engine: Engine) -> None:
    """The database refuses a contact with external id BOOM (quoting its name, as a
    database's own message may: the import must never repeat it)."""
    owner = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    with owner.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN"
                    " IF NEW.external_id = 'BOOM' THEN"
                    " RAISE EXCEPTION 'refused %', NEW.given_name; END IF;"
                    " RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER contacts_boom BEFORE INSERT ON contacts"
                    " FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER contacts_boom BEFORE INSERT ON contacts"
                    " WHEN NEW.external_id = 'BOOM' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    owner.dispose()


@pytest.mark.usefixtures("boom_trigger")
def test_database_error_keeps_every_row_before_the_refused_one(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "\n" + "".join(_many_rows(2500, boom=1500)))
    with pytest.raises(ImportStopped) as info:
        import_contacts(engine, path, settings, clock.now())
    assert info.value.line == 1502  # row 1,500: line 1,501 + row 3's second line
    assert "the database refused the row" in str(info.value)
    assert "Name1500" not in str(info.value)
    report = info.value.report
    assert isinstance(report, ImportReport) and totals(report) == (1499, 1498, 0, 1)
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1498  # not row 3
    ids = set(stored(engine))
    assert "C-1499" in ids and "C-1501" not in ids and "BOOM" not in ids


def test_consent_history_and_suppression_list_through_a_mapping(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    now = clock.now()
    with unit_of_work(engine) as session:
        load_catalog(session, CRM.parent / "catalog.toml", settings, now)
    import_contacts(
        engine, CRM / "hubspot-contacts.csv", settings, now, mapped("hubspot-mapping.toml")
    )
    history = tmp_path / "subscriptions.csv"
    history.write_text(
        "Record ID;Subscription;Status;Changed;Note\n"
        "51;marketing_email;given;2025-03-02T10:15:00+01:00;webform\n"
        "52;marketing_email;withdrawn;2025-04-01;call centre\n"
    )
    columns = ['external_id="Record ID"', "purpose=Subscription", "state=Status"]
    consent_map = tmp_path / "hubspot-consents.toml"
    consent_map.write_text(
        '[columns]\ncaptured_at = "Changed"\n[defaults]\nsource = "hubspot"\nchannel = "email"\n'
        'notice_version = ""\n'
    )
    fmt = FileFormat(mapping=load_mapping(consent_map, columns))
    report = import_consents(engine, history, settings, now, fmt)
    assert totals(report) == (2, 2, 0, 0) and report.ignored_columns == ["Note"]
    with unit_of_work(engine) as session:
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.state, e.channel, e.source) for e in events] == [
        (ConsentState.GIVEN, Channel.EMAIL, "hubspot"),
        (ConsentState.WITHDRAWN, Channel.EMAIL, "hubspot"),
    ]
    # a provider's suppression export (SendGrid's unsubscribes: email,created)
    unsubscribes = tmp_path / "unsubscribes.csv"
    unsubscribes.write_text("email,created\nOliver.Smith@Example.co.uk,1733050000\n")
    defaults = {"channel": "email", "reason": "unsubscribe", "source": "sendgrid"}
    fmt = FileFormat(mapping=load_mapping(None, ["address=email"], defaults))
    report = import_suppressions(engine, unsubscribes, settings, now, fmt)
    assert totals(report) == (1, 1, 0, 0) and report.ignored_columns == ["created"]
    assert (
        email("oliver.smith@example.co.uk"),
        Channel.EMAIL,
        SuppressionReason.UNSUBSCRIBE,
    ) in suppressions(engine)
