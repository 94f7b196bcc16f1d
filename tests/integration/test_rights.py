"""Rights without HTTP: erasure keeps a person out of every wave, even re-imported;
the operators' list of requests with due dates (``reconsent rights``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from models import Contact, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import ConsentState, RightsKind, RightsStatus
from reconsent.ledger.append import LedgerContext
from reconsent.planning.planner import preflight
from reconsent.rights.subject_requests import (
    Origin,
    erase_contact,
    record_rights_request,
    request_rectification,
    restrict_contact,
)
from tests.support import factories
from tests.support.checkout import with_checkout


def _ctx(clock: FixedClock) -> LedgerContext:
    return LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=clock.now())


def _stale_base(engine: Engine, clock: FixedClock) -> int:
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        contact = factories.add_contact(s, now, "crm-1", email="erase.me@example.com")
        factories.record(
            s,
            now,
            contact,
            purposes["marketing_email"],
            ConsentState.GIVEN,
            now - timedelta(days=800),
        )
        return contact.id


def test_an_erased_person_reimported_under_another_id_is_never_asked(
    engine: Engine, clock: FixedClock
) -> None:
    contact_id = _stale_base(engine, clock)
    with unit_of_work(engine) as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        first, replay = erase_contact(s, contact=contact, ctx=_ctx(clock))
        again, replay_again = erase_contact(s, contact=contact, ctx=_ctx(clock))
    assert (replay, replay_again, again.id) == (False, True, first.id)
    with unit_of_work(engine) as s:
        # The CRM still has the person and exports them again, under a new id.
        twin = factories.add_contact(s, clock.now(), "crm-99", email="erase.me@example.com")
        twin_id = twin.id
        wave = factories.add_wave(s, clock.now(), stale={"include_missing": True})
        report = preflight(s, wave, clock.now())
    assert report.eligible_total == 0
    # The erased row; its twin's e-mail carries the erasure (suppressed on e-mail), and
    # its other address (a phone the erased person never gave) has no consent to use:
    # never asked. (Erasure suppresses the erased person's addresses on their channels,
    # not every channel: a housemate sharing the e-mail keeps their own phone, issue 17.)
    assert report.excluded == {"erased": 1, "no_lawful_basis": 1}
    with unit_of_work(engine) as s:
        rows = s.scalars(select(RightsRequest)).all()
        assert [(r.kind, r.status, r.contact_id) for r in rows] == [
            (RightsKind.ERASURE, RightsStatus.COMPLETED, contact_id)
        ]
        assert twin_id != contact_id


def test_restriction_excludes_from_planning_and_rectification_stays_open(
    engine: Engine, clock: FixedClock
) -> None:
    contact_id = _stale_base(engine, clock)
    with unit_of_work(engine) as s:
        contact = s.get(Contact, contact_id)
        assert contact is not None
        restrict_contact(s, contact=contact, now=clock.now())
        row, _ = request_rectification(
            s,
            contact=contact,
            corrections={"phone": " +39 333 000 0000 ", "unknown": "x", "email": ""},
            now=clock.now(),
            origin=Origin(nonce="n-1"),
        )
        _, replay = request_rectification(
            s,
            contact=contact,
            corrections={"phone": "+39 333 000 0000"},
            now=clock.now(),
            origin=Origin(nonce="n-1"),
        )
        wave = factories.add_wave(s, clock.now())
        report = preflight(s, wave, clock.now())
    assert report.excluded == {"restricted": 1} and replay is True
    assert (row.status, row.details) == (
        RightsStatus.OPEN,
        {"corrections": {"phone": "+39 333 000 0000"}},
    )


def _cli(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONSENT_")}
    env.update({"RECONSENT_DATABASE_URL": url, "RECONSENT_DATA_DIR": str(cwd), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "reconsent.cli.main", *args],
        capture_output=True,
        text=True,
        env=with_checkout(env),
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def requests_db(sqlite_url: str, clock: FixedClock) -> str:
    from reconsent.db import make_engine

    engine = make_engine(sqlite_url)
    with unit_of_work(engine) as s:
        contact = factories.add_contact(s, clock.now() - timedelta(days=40), "crm-7")
        old = clock.now() - timedelta(days=40)
        request_rectification(s, contact=contact, corrections={"email": "new@example.com"}, now=old)
        record_rights_request(
            s, contact=contact, kind=RightsKind.ACCESS, now=clock.now(), completed=True
        )
    engine.dispose()
    return sqlite_url


def test_rights_list_shows_due_dates_and_overdue_requests(requests_db: str, tmp_path: Path) -> None:
    listed = _cli(["rights", "list", "--json"], requests_db, tmp_path)
    opened = _cli(["rights", "list", "--open"], requests_db, tmp_path)

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["kind"], r["status"], r["overdue"]) for r in rows] == [
        ("rectification", "open", True),  # received 22 Oct, due 22 Nov
        ("access", "completed", False),
    ]
    assert rows[0]["due_at"] == "2026-11-22T10:00:00+00:00"
    assert rows[0]["details"] == {"corrections": {"email": "new@example.com"}}
    assert rows[0]["external_id"] == "crm-7"
    assert opened.returncode == 0 and "rectification" in opened.stdout
    assert "overdue" in opened.stdout and "access" not in opened.stdout
    assert "new@example.com" not in opened.stdout  # the table names the fields only
    assert "correct: email" in opened.stdout


def test_rights_complete_closes_an_open_request(requests_db: str, tmp_path: Path) -> None:
    done = _cli(["rights", "complete", "1"], requests_db, tmp_path)
    missing = _cli(["rights", "complete", "99"], requests_db, tmp_path)
    after = json.loads(_cli(["rights", "list", "--json"], requests_db, tmp_path).stdout)

    assert done.returncode == 0
    # The person is told (their e-mail): measured in tests/integration/test_rights_desk.py.
    assert done.stdout.strip() == "rights request 1: completed; person told: 1 by email"
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert [r["status"] for r in after] == ["completed", "completed"]
