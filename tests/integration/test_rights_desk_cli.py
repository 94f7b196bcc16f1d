"""``reconsent rights`` at the desk: a phone request taken without a link, extended,
completed; each told once at the file outbox; the list and the story of a request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Contact
from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind
from reconsent.rights.subject_requests import request_rectification, restrict_contact
from tests.support import factories
from tests.support.checkout import with_checkout

NOW = "2026-12-01T10:00:00Z"


def _cli(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONSENT_")}
    env.update(
        {
            "RECONSENT_DATABASE_URL": url,
            "RECONSENT_DATA_DIR": str(cwd),
            "RECONSENT_ADDRESS_HASH_KEY": factories.ADDRESS_KEY.decode(),
            "RECONSENT_CHANNEL_MODE": "outbox",
            "COLUMNS": "200",
        }
    )
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
def desk(sqlite_url: str, clock: FixedClock) -> str:
    engine = make_engine(sqlite_url)
    with unit_of_work(engine) as s:
        factories.add_catalog(s, clock.now())
        giulia = factories.add_contact(s, clock.now(), "crm-7", email="giulia@example.com")
        marco = factories.add_contact(s, clock.now(), "crm-8", given_name="Marco", locale="en")
        # Marco writes English: his number is read as British.
        request_rectification(
            s, contact=marco, corrections={"phone": "07911 123456"}, now=clock.now()
        )
        restrict_contact(s, contact=giulia, now=clock.now())
    engine.dispose()
    return sqlite_url


def _notices(cwd: Path) -> list[Path]:
    return sorted((cwd / "outbox").glob("*/notice-*"))


def test_a_phone_request_is_taken_extended_and_completed_each_told_once(
    desk: str, tmp_path: Path
) -> None:
    added = _cli(
        [
            "rights",
            "add",
            "--kind",
            "access",
            "--email",
            " Giulia@Example.com ",
            "--received-via",
            "phone",
            "--received-at",
            "2026-11-20T09:00:00Z",
            "--operator",
            "anna",
            "--now",
            NOW,
        ],
        desk,
        tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == ("rights request 3: access, open, due 2026-12-20T09:00:00+00:00")
    reason = ["--reason", "Your records are in our paper archive", "--months", "1"]
    first = _cli(["rights", "extend", "3", *reason, "--now", NOW], desk, tmp_path)
    again = _cli(["rights", "extend", "3", *reason, "--now", NOW], desk, tmp_path)
    listed = _cli(["rights", "list", "--open", "--now", "2027-01-10T00:00:00Z"], desk, tmp_path)
    done = _cli(["rights", "complete", "3", "--note", "Sent by post", "--now", NOW], desk, tmp_path)
    retry = _cli(["rights", "complete", "3", "--now", NOW], desk, tmp_path)
    shown = json.loads(_cli(["rights", "show", "3", "--json"], desk, tmp_path).stdout)
    table = _cli(["rights", "show", "3"], desk, tmp_path)

    assert first.stdout.strip() == (
        "rights request 3: due 2027-01-20T09:00:00+00:00; person told: 1 by email"
    )
    assert again.returncode == 0 and again.stdout.strip() == (
        "rights request 3: due 2027-01-20T09:00:00+00:00"
    )
    assert "2027-01-20 (+1m)" in listed.stdout and "phone" in listed.stdout
    assert "overdue" in listed.stdout  # the rectification, due 1 Jan, is still open
    assert done.stdout.strip() == "rights request 3: completed; person told: 1 by email"
    assert retry.returncode == 0 and retry.stdout.strip() == "rights request 3: completed"
    files = _notices(tmp_path)
    assert [f.name for f in files] == ["notice-1.eml", "notice-2.eml"]
    assert "paper archive" in files[0].read_text() and "Sent by post" in files[1].read_text()
    assert [h["action"] for h in shown["history"]] == [
        "received",
        "extended",
        "notice_sent",
        "completed",
        "notice_sent",
    ]
    assert shown["history"][0] == {
        "at": "2026-11-20T09:00:00+00:00",
        "action": "received",
        "actor": "anna",
        "details": {"received_via": "phone"},
    }
    assert [(n["action"], n["status"]) for n in shown["notices"]] == [
        ("extended", "sent"),
        ("completed", "sent"),
    ]
    assert table.returncode == 0 and "extended by 1 months" in table.stdout
    assert "giulia@example.com" not in table.stdout + json.dumps(shown["history"])


def test_a_decline_needs_its_reason_and_a_correction_and_a_lift_are_applied(
    desk: str, tmp_path: Path
) -> None:
    no_reason = _cli(["rights", "decline", "1"], desk, tmp_path)
    applied = _cli(["rights", "apply-rectification", "1", "--now", NOW], desk, tmp_path)
    lifted = _cli(
        ["rights", "lift-restriction", "--contact", "crm-7", "--now", NOW], desk, tmp_path
    )
    unknown = _cli(
        [
            "rights",
            "add",
            "--kind",
            "erasure",
            "--phone",
            "+39 333 000 0000",
            "--received-via",
            "letter",
        ],
        desk,
        tmp_path,
    )
    objection = _cli(
        ["rights", "add", "--kind", "objection", "--contact", "crm-8", "--received-via", "phone"],
        desk,
        tmp_path,
    )
    rows = json.loads(_cli(["rights", "list", "--json"], desk, tmp_path).stdout)

    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.strip() == (
        "rights request 1: phone corrected, completed; person told: 1 by email"
    )
    assert lifted.stdout.strip() == (
        "rights request 2: restriction lifted; person told: 1 by email"
    )
    assert unknown.returncode == 2 and "no contact holds that address" in unknown.stderr
    assert objection.stdout.strip() == (
        "rights request 3: objection, carried out at once; person told: 1 by email"
    )
    assert [(r["id"], r["status"]) for r in rows] == [
        (1, "completed"),
        (2, "completed"),
        (3, "completed"),
    ]
    engine = make_engine(desk)
    with unit_of_work(engine) as s:
        marco = s.scalar(select(Contact).where(Contact.external_id == "crm-8"))
        giulia = s.scalar(select(Contact).where(Contact.external_id == "crm-7"))
        assert marco is not None and giulia is not None
        assert marco.phone == "+447911123456" and giulia.restricted_at is None
        assert marco.phone_hash == address_hash(
            factories.ADDRESS_KEY, AddressKind.PHONE, "+447911123456"
        )
    engine.dispose()
