"""Signed checkpoints: what they hold, and every way a checkpoint itself can be wrong."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, func, select

from models import ConsentEvent, Contact, Purpose
from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import CheckpointError, ConfigError
from reconsent.kernel.rules.chain import CURRENT_VERSION
from reconsent.kernel.rules.merkle import head_lines, merkle_root
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.checkpoint_signing import new_key, public_key_of
from reconsent.ledger.checkpoints import take_checkpoint, verify_with_checkpoints
from tests.support import factories

KEY = new_key()
PUBLIC = public_key_of(KEY)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where checkpoints go: a folder of their own, away from the SQLite file."""
    return tmp_path / "checkpoints"


def _people(engine: Engine, clock: FixedClock, names: tuple[str, ...]) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        if not s.scalar(select(func.count()).select_from(Contact)):
            factories.add_catalog(s, now)
        email = s.scalars(select(Purpose).where(Purpose.code == "marketing_email")).one()
        for name in names:
            c = factories.add_contact(s, now, name)
            factories.record(s, now, c, email, ConsentState.GIVEN, now - timedelta(days=3))
            factories.record(s, now, c, email, ConsentState.WITHDRAWN, now - timedelta(days=1))


def test_a_checkpoint_states_the_ledger_and_an_auditor_checks_it_with_the_key_alone(
    engine: Engine, clock: FixedClock, folder: Path
) -> None:
    _people(engine, clock, ("a", "b", "c"))
    taken = take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    with unit_of_work(engine) as s:
        heads = {
            subject: digest
            for subject, digest in s.execute(
                select(ConsentEvent.subject_id, ConsentEvent.hash).where(
                    ConsentEvent.id.in_(
                        select(func.max(ConsentEvent.id)).group_by(ConsentEvent.subject_id)
                    )
                )
            )
        }
        top = s.scalar(select(func.max(ConsentEvent.id)))
    said = taken.statement
    assert (said["last_event_id"], said["events"], said["subjects"]) == (top, 6, 3)
    assert said["taken_at"] == "2026-12-01T10:00:00Z" and said["previous"] is None
    files = ("heads", "json", "sig", "suppressions")
    assert sorted(p.name for p in folder.iterdir()) == [
        f"checkpoint-20261201T100000Z-{top}.{ext}" for ext in files
    ]
    # The README's recipe: nothing of reconsent, only the public key and the files.
    stem = folder / f"checkpoint-20261201T100000Z-{top}"
    statement = stem.with_suffix(".json").read_bytes()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC))
    public.verify(base64.b64decode(stem.with_suffix(".sig").read_text()), statement)
    lines = stem.with_suffix(".heads").read_bytes().splitlines()
    assert lines == sorted(lines) == head_lines(heads.items())
    level = [hashlib.sha256(b"\0" + line).digest() for line in lines]
    while len(level) > 1:
        level = [
            hashlib.sha256(b"\1" + level[i] + level[i + 1]).digest()
            if i + 1 < len(level)
            else level[i]
            for i in range(0, len(level), 2)
        ]
    assert level[0].hex() == json.loads(statement)["heads_root"] == merkle_root(lines)
    log_file = stem.with_suffix(".suppressions").read_bytes()
    assert hashlib.sha256(log_file).hexdigest() == json.loads(statement)["suppressions_sha256"]


def test_later_checkpoints_chain_to_earlier_ones_and_new_events_are_fine(
    db_url: str, engine: Engine, clock: FixedClock, folder: Path
) -> None:
    _people(engine, clock, ("a", "b"))
    first = take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    _people(engine, clock, ("c",))
    second = take_checkpoint(engine, folder, KEY, clock.advance(timedelta(days=1)), "T")
    assert second.statement["previous"] == {
        "file": first.name,
        "sha256": hashlib.sha256(first.path.read_bytes()).hexdigest(),
    }
    _people(engine, clock, ("d",))  # after the newest checkpoint: the chain covers it
    report = verify_with_checkpoints(db_url, folder, PUBLIC, workers=2, min_events=0)
    assert report.ok, report.breaks
    assert [c["ok"] for c in report.checkpoints] == [True, True]
    assert report.events == 8 and report.versions == {CURRENT_VERSION: 8}


def test_an_empty_ledger_can_be_checkpointed(
    db_url: str, engine: Engine, clock: FixedClock, folder: Path
) -> None:
    taken = take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    assert (taken.statement["last_event_id"], taken.statement["subjects"]) == (0, 0)
    _people(engine, clock, ("a",))
    assert verify_with_checkpoints(db_url, folder, PUBLIC).ok


@pytest.mark.parametrize(
    "damage",
    ["statement edited", "signature swapped", "another key", "heads edited", "previous removed"],
)
def test_a_checkpoint_that_does_not_hold_is_a_break(
    db_url: str, engine: Engine, clock: FixedClock, folder: Path, damage: str
) -> None:
    _people(engine, clock, ("a", "b"))
    first = take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    second = take_checkpoint(engine, folder, KEY, clock.advance(timedelta(days=1)), "T")
    public = PUBLIC
    if damage == "statement edited":
        data = json.loads(second.path.read_bytes())
        second.path.write_bytes(json.dumps({**data, "events": 1}).encode())
    elif damage == "signature swapped":
        second.path.with_suffix(".sig").write_bytes(first.path.with_suffix(".sig").read_bytes())
    elif damage == "another key":
        public = public_key_of(new_key())
    elif damage == "heads edited":
        heads = second.heads_path.read_bytes().splitlines()
        second.heads_path.write_bytes(b"\n".join(heads[:-1]) + b"\n")
    else:
        for ext in ("json", "sig", "heads"):
            first.path.with_suffix(f".{ext}").unlink()
    report = verify_with_checkpoints(db_url, folder, public)
    invalid = [b for b in report.breaks if b.kind == "checkpoint_invalid"]
    named = {b.detail.split(":")[0] for b in invalid}
    assert named == ({first.name, second.name} if damage == "another key" else {second.name})
    assert not report.ok


def test_a_folder_without_checkpoints_is_a_mistake(db_url: str, folder: Path) -> None:
    with pytest.raises(ConfigError, match="no checkpoint"):
        verify_with_checkpoints(db_url, folder, PUBLIC)


def test_a_checkpoint_is_never_overwritten(engine: Engine, clock: FixedClock, folder: Path) -> None:
    take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    with pytest.raises(CheckpointError, match="never overwritten"):
        take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")


@pytest.mark.postgres
def test_a_checkpoint_waits_for_the_writers_in_flight(
    pg_url: str, clock: FixedClock, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL hands out ids before the inserts commit: a mark read while an event
    is still uncommitted below it would sign a past that later changes."""
    import reconsent.ledger.checkpoints as checkpoints

    engine = make_engine(pg_url)
    _people(engine, clock, ("a",))
    monkeypatch.setattr(checkpoints, "LOCK_TIMEOUT", "200ms")
    with unit_of_work(engine) as s:  # a decision in flight: written, not committed
        contact = s.scalars(select(Contact)).one()
        email = s.scalars(select(Purpose).where(Purpose.code == "marketing_email")).one()
        factories.record(s, clock.now(), contact, email, ConsentState.GIVEN, clock.now())
        pending = s.scalar(select(func.max(ConsentEvent.id)))
        with pytest.raises(CheckpointError, match="writers did not finish"):
            take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    taken = take_checkpoint(engine, folder, KEY, clock.now(), "Test S.r.l.")
    assert taken.last_event_id == pending
    assert verify_with_checkpoints(pg_url, folder, PUBLIC).ok
    engine.dispose()
