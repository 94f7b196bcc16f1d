"""The suppression list is append-only and keeps its own history: a lift is a new row,
adds and lifts are logged by triggers, rewrites and deletes are refused, and verify
catches a list or its lifts changed behind the triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models import Suppression, SuppressionLift, SuppressionLogEntry, suppression_in_force
from reconsent.db import is_postgres, make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, SuppressionReason
from reconsent.ledger.suppression_check import verify_suppressions
from reconsent.ledger.suppression_list import lift_address, suppress_address
from tests.support.postgres import owner_url


def _add(
    session: Session, digest: str, channel: Channel, reason: SuppressionReason, clock: FixedClock
) -> None:
    suppress_address(
        session,
        address_hash=digest,
        channel=channel,
        reason=reason,
        source=f"test:{reason.value}",
        now=clock.now(),
    )


def _lift(session: Session, digest: str, clock: FixedClock) -> int:
    return lift_address(
        session,
        address_hash=digest,
        channel=Channel.SMS,
        reason=SuppressionReason.STOP,
        source="sms:start",
        now=clock.now(),
    )


def test_adds_and_lifts_are_logged_and_rewrites_refused(engine: Engine, clock: FixedClock) -> None:
    with unit_of_work(engine) as s:
        _add(s, "h-stop", Channel.SMS, SuppressionReason.STOP, clock)
        _add(s, "h-bounce", Channel.EMAIL, SuppressionReason.BOUNCE, clock)
    clock.advance(timedelta(hours=1))
    with unit_of_work(engine) as s:  # START: the person texts again
        lifted = _lift(s, "h-stop", clock)
    assert lifted == 1
    clock.advance(timedelta(hours=1))
    with unit_of_work(engine) as s:  # STOP again: a new suppression, then START again
        _add(s, "h-stop", Channel.SMS, SuppressionReason.STOP, clock)
        assert _lift(s, "h-stop", clock) == 1
        assert _lift(s, "h-stop", clock) == 0  # nothing left in force
    with unit_of_work(engine) as s:
        log = [(e.action, e.address_hash) for e in s.scalars(select(SuppressionLogEntry))]
        rows = s.scalars(select(Suppression.address_hash).order_by(Suppression.id)).all()
        in_force = s.scalars(select(Suppression.address_hash).where(suppression_in_force())).all()
        lifts = s.scalars(select(SuppressionLift.source)).all()
    assert log == [
        ("added", "h-stop"),
        ("added", "h-bounce"),
        ("lifted", "h-stop"),
        ("added", "h-stop"),
        ("lifted", "h-stop"),
    ]
    assert rows == ["h-stop", "h-bounce", "h-stop"]  # nothing deleted: history kept
    assert in_force == ["h-bounce"]
    assert lifts == ["sms:start", "sms:start"]
    assert verify_suppressions(engine) == []
    for statement in (
        update(Suppression).values(reason=SuppressionReason.MANUAL),
        delete(Suppression),
        update(SuppressionLift).values(source="x"),
        delete(SuppressionLift),
        update(SuppressionLogEntry).values(action="added"),
        delete(SuppressionLogEntry),
    ):
        with pytest.raises(DBAPIError), unit_of_work(engine) as s:
            s.execute(statement)


def test_a_list_changed_behind_the_triggers_is_caught(engine: Engine, clock: FixedClock) -> None:
    with unit_of_work(engine) as s:
        for digest in ("h-1", "h-2"):
            _add(s, digest, Channel.SMS, SuppressionReason.STOP, clock)
    insider = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    try:
        with insider.begin() as conn:
            if is_postgres(engine):
                conn.execute(text("ALTER TABLE suppressions DISABLE TRIGGER USER"))
                conn.execute(text("DELETE FROM suppressions WHERE address_hash = 'h-1'"))
                conn.execute(text("UPDATE suppressions SET channel = 'email'"))
                conn.execute(text("ALTER TABLE suppressions ENABLE TRIGGER USER"))
            else:
                for name in ("no_delete", "no_update"):
                    conn.execute(text(f"DROP TRIGGER suppressions_{name}"))
                conn.execute(text("DELETE FROM suppressions WHERE address_hash = 'h-1'"))
                conn.execute(text("UPDATE suppressions SET channel = 'email'"))
    finally:
        insider.dispose()
    breaks = verify_suppressions(engine)
    assert len(breaks) == 2
    assert any("suppression 1: removed from the list" in b for b in breaks)
    assert any("differs from what the log recorded" in b for b in breaks)


def test_ledger_verify_names_a_suppression_removed_behind_the_triggers(
    engine: Engine, clock: FixedClock, cli_env: dict[str, str]
) -> None:
    with unit_of_work(engine) as s:
        _add(s, "h-1", Channel.SMS, SuppressionReason.STOP, clock)
    env = {**cli_env, "RECONSENT_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    command = [sys.executable, "-m", "reconsent.cli.main", "ledger", "verify", "--json"]
    intact = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert intact.returncode == 0, intact.stderr
    insider = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    try:
        with insider.begin() as conn:
            if is_postgres(engine):
                conn.execute(text("ALTER TABLE suppressions DISABLE TRIGGER USER"))
                conn.execute(text("DELETE FROM suppressions"))
                conn.execute(text("ALTER TABLE suppressions ENABLE TRIGGER USER"))
            else:
                conn.execute(text("DROP TRIGGER suppressions_no_delete"))
                conn.execute(text("DELETE FROM suppressions"))
    finally:
        insider.dispose()
    broken = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert broken.returncode == 1
    kinds = [b["kind"] for b in json.loads(broken.stdout)["breaks"]]
    assert kinds == ["suppression_mismatch"]


def test_a_lift_slipped_in_or_taken_out_behind_the_triggers_is_caught(
    engine: Engine, clock: FixedClock
) -> None:
    """A lift inserted without its log line (a STOP quietly lifted) and a lift removed
    (a START undone) are both named."""
    with unit_of_work(engine) as s:
        for digest in ("h-1", "h-2"):
            _add(s, digest, Channel.SMS, SuppressionReason.STOP, clock)
        _lift(s, "h-2", clock)
    insider = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    try:
        with insider.begin() as conn:
            if is_postgres(engine):
                conn.execute(text("ALTER TABLE suppression_lifts DISABLE TRIGGER USER"))
            else:
                for name in ("logged", "no_delete"):
                    conn.execute(text(f"DROP TRIGGER suppression_lifts_{name}"))
            conn.execute(text("DELETE FROM suppression_lifts"))
            conn.execute(
                text(
                    "INSERT INTO suppression_lifts (suppression_id, source, lifted_at) "
                    "SELECT id, 'insider', created_at FROM suppressions WHERE address_hash = 'h-1'"
                )
            )
            if is_postgres(engine):
                conn.execute(text("ALTER TABLE suppression_lifts ENABLE TRIGGER USER"))
    finally:
        insider.dispose()
    breaks = verify_suppressions(engine)
    assert breaks == [
        "suppression 1: lifted, but the log records no lift",
        "suppression 2: the log records a lift that is gone (back in force)",
    ]
