"""The suppression list keeps its own history: adds and lifts are logged by triggers,
rewrites are refused, and verify catches a list changed behind the triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from models import Suppression, SuppressionLogEntry
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


def test_adds_and_lifts_are_logged_and_rewrites_refused(engine: Engine, clock: FixedClock) -> None:
    with unit_of_work(engine) as s:
        _add(s, "h-stop", Channel.SMS, SuppressionReason.STOP, clock)
        _add(s, "h-bounce", Channel.EMAIL, SuppressionReason.BOUNCE, clock)
    clock.advance(timedelta(hours=1))
    with unit_of_work(engine) as s:  # START: the person texts again
        lift_address(s, address_hash="h-stop", channel=Channel.SMS, reason=SuppressionReason.STOP)
    with unit_of_work(engine) as s:
        log = [(e.action, e.address_hash) for e in s.scalars(select(SuppressionLogEntry))]
    assert log == [("added", "h-stop"), ("added", "h-bounce"), ("lifted", "h-stop")]
    assert verify_suppressions(engine) == []
    for statement in (
        update(Suppression).values(reason=SuppressionReason.MANUAL),
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
                for name in ("log_lifted", "no_update"):
                    conn.execute(text(f"DROP TRIGGER suppressions_{name}"))
                conn.execute(text("DELETE FROM suppressions WHERE address_hash = 'h-1'"))
                conn.execute(text("UPDATE suppressions SET channel = 'email'"))
    finally:
        insider.dispose()
    breaks = verify_suppressions(engine)
    assert len(breaks) == 2
    assert any("removed from the list without a lift" in b for b in breaks)
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
                conn.execute(text("DROP TRIGGER suppressions_log_lifted"))
                conn.execute(text("DELETE FROM suppressions"))
    finally:
        insider.dispose()
    broken = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert broken.returncode == 1
    kinds = [b["kind"] for b in json.loads(broken.stdout)["breaks"]]
    assert kinds == ["suppression_mismatch"]
