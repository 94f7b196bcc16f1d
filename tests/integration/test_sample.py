"""The demo's sample base: deterministic, realistic, and importable as the demo promises."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from sqlalchemy import ColumnElement, Engine, distinct, func, select

from models import ConsentEvent, ConsentStatus, Contact
from reconsent.campaigns.catalog_file import load_catalog, read_catalog
from reconsent.db import unit_of_work
from reconsent.dev.sample import CATEGORIES, NOTICES, write_sample
from reconsent.imports import import_consents, import_contacts
from reconsent.imports.rows import parse_captured_at
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.notice_dates import cited_notice_problem
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.settings import Settings
from tests.conftest import FIXED_NOW

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_same_files(tmp_path: Path, clock: FixedClock) -> None:
    a = write_sample(tmp_path / "a", 300, seed=11, now=clock.now())
    b = write_sample(tmp_path / "b", 300, seed=11, now=clock.now())
    c = write_sample(tmp_path / "c", 300, seed=12, now=clock.now())
    assert a.contacts_csv.read_bytes() == b.contacts_csv.read_bytes()
    assert a.consents_csv.read_bytes() == b.consents_csv.read_bytes()
    assert a.counts == b.counts
    assert a.contacts_csv.read_bytes() != c.contacts_csv.read_bytes()


def test_sample_is_realistic(tmp_path: Path, clock: FixedClock) -> None:
    files = write_sample(tmp_path, 1000, now=clock.now())
    counts = files.counts
    contacts = read(files.contacts_csv)
    consents = read(files.consents_csv)
    assert len(contacts) == counts["contacts"] + counts["bad_contact_rows"] == 1003
    assert len(consents) == counts["consent_rows"] + counts["bad_consent_rows"]
    assert sum(counts[name] for name in CATEGORIES) == 1000
    assert counts["italian"] + counts["english"] == 1000
    assert 640 <= counts["italian"] <= 760
    assert all(counts[name] > 0 for name in (*CATEGORIES, "no_email", "no_phone"))
    good = [row for row in contacts if row["external_id"].startswith("CRM-0")]
    assert len(good) == 1000 and len({row["external_id"] for row in good}) == 1000
    # A few people are in the base twice, under two CRM ids with one address.
    emails = [row["email"].lower() for row in good if row["email"]]
    phones = [row["phone"] for row in good if row["phone"]]
    shared = len(emails) - len(set(emails)) + len(phones) - len(set(phones))
    assert 10 <= counts["twins"] <= 40 and shared == counts["twins"]
    for row in good:
        italian = row["locale"].startswith("it")
        assert row["timezone"] == ("Europe/Rome" if italian else "Europe/London")
        assert row["email"] or row["phone"]
        if row["email"]:
            assert row["email"].lower().rsplit("@", 1)[1] in {
                "example.com",
                "example.it",
                "example.org",
            }
        if row["phone"]:
            number = phonenumbers.parse(row["phone"], "IT" if italian else "GB")
            assert phonenumbers.is_valid_number(number)
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
            assert number.country_code == (39 if italian else 44)
    purposes = {row["purpose"] for row in consents}
    assert purposes == {"marketing_email", "marketing_sms", "marketing_phone", "marketing_fax"}
    assert {row["state"] for row in consents} == {"given", "refused", "withdrawn", "maybe"}
    # Consents older than every notice cite none; the others cite one in effect by then.
    assert {row["notice_version"] for row in consents} == {"", "2024-01", "2026-09"}
    assert max(row["captured_at"][:10] for row in consents) <= clock.now().date().isoformat()


@pytest.mark.parametrize("when", [FIXED_NOW, datetime(2027, 6, 1, 9, tzinfo=UTC)])
def test_sample_never_cites_a_notice_before_it_took_effect(tmp_path: Path, when: datetime) -> None:
    catalog = read_catalog(EXAMPLES / "catalog.toml")
    published = {n.version: n.effective for n in catalog.notices if n.effective is not None}
    assert dict(NOTICES) == published  # the sample knows the example catalog's dates
    files = write_sample(tmp_path, 1000, now=when)
    rows = read(files.consents_csv)
    problems = [
        (line, problem)
        for line, row in enumerate(rows, start=2)
        if row["notice_version"]
        and (
            problem := cited_notice_problem(
                row["notice_version"], parse_captured_at(row["captured_at"], when), published
            )
        )
    ]
    assert problems == []
    fresh_2026 = [r for r in rows if r["notice_version"] == "2026-09" and r["state"] == "given"]
    assert len(fresh_2026) > 100  # the current notice is still cited where it can be


@pytest.mark.parametrize("n", [150])
def test_sample_imports_with_its_bad_rows_reported(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path, n: int
) -> None:
    now = clock.now()
    files = write_sample(tmp_path, n, now=now)
    counts = files.counts
    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, now)

    contacts = import_contacts(engine, files.contacts_csv, settings, now)
    assert (contacts.created, contacts.updated, contacts.unchanged) == (n, 0, 0)
    bad_lines = [
        line
        for line, row in enumerate(read(files.contacts_csv), start=2)
        if not row["external_id"].startswith("CRM-0")
    ]
    assert [error.line for error in contacts.errors] == bad_lines
    assert len(bad_lines) == counts["bad_contact_rows"] == 3
    assert [e.reason.split(" ")[:2] for e in contacts.errors] == [
        ["invalid", "email:"],
        ["unknown", "timezone"],
        ["external_id", "is"],
    ]

    consents = import_consents(engine, files.consents_csv, settings, now)
    assert (consents.created, consents.unchanged, consents.duplicates) == (
        counts["consent_rows"],
        0,
        0,
    )
    rows = read(files.consents_csv)
    bad_consents = [
        line
        for line, row in enumerate(rows, start=2)
        if row["purpose"] == "marketing_fax" or row["state"] == "maybe"
    ]
    assert [error.line for error in consents.errors] == bad_consents
    assert len(bad_consents) == counts["bad_consent_rows"] == 2

    again_contacts = import_contacts(engine, files.contacts_csv, settings, now)
    again_consents = import_consents(engine, files.consents_csv, settings, now)
    assert (again_contacts.created, again_contacts.updated, again_contacts.unchanged) == (0, 0, n)
    assert (again_consents.created, again_consents.unchanged) == (0, counts["consent_rows"])

    with unit_of_work(engine) as session:
        assert (
            session.scalar(select(func.count()).where(Contact.email.is_(None)))
            == counts["no_email"]
        )
        assert (
            session.scalar(select(func.count()).where(Contact.phone.is_(None)))
            == counts["no_phone"]
        )
        events = session.execute(
            select(ConsentEvent.method, ConsentEvent.provable, ConsentEvent.evidence)
        ).all()

        def contacts_with(*conditions: ColumnElement[bool]) -> int:
            query = select(func.count(distinct(ConsentStatus.contact_id))).where(*conditions)
            return int(session.scalar(query) or 0)

        with_status = contacts_with()
        withdrawn = contacts_with(ConsentStatus.state == ConsentState.WITHDRAWN)
        refused = contacts_with(ConsentStatus.state == ConsentState.REFUSED)
        fresh = contacts_with(
            ConsentStatus.state == ConsentState.GIVEN,
            ConsentStatus.notice_version == "2026-09",
            ConsentStatus.provable.is_(True),
            ConsentStatus.occurred_at > now - timedelta(days=365),
        )
    assert len(events) == counts["consent_rows"]
    assert {method for method, _, _ in events} == {CollectionMethod.IMPORTED}
    # The CRM's evidence reference names a document about the person: sealed at rest.
    assert all(provable == ("sealed" in evidence) for _, provable, evidence in events)
    assert any(provable for _, provable, _ in events) and not all(p for _, p, _ in events)
    assert with_status == n - counts["missing"]
    assert (withdrawn, refused, fresh) == (counts["withdrawn"], counts["refused"], counts["fresh"])
