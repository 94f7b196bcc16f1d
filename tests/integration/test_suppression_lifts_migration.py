"""Append-only suppressions' migration: lifts recorded the old way (a delete) are
rebuilt from the log as a suppression and its lift, and verify holds them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, select, text

from models import Suppression, SuppressionLift, suppression_in_force
from reconsent.db import alembic_config, make_engine, unit_of_work, upgrade
from reconsent.kernel.clock import FixedClock
from reconsent.ledger.suppression_check import verify_suppressions
from tests.support.postgres import database_at

BEFORE = "b4c8e2f60001"  # the revision before append-only suppressions


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the revision before, as its owner (the migrations' role)."""
    return database_at(request, tmp_path, BEFORE)


def _old_lift(engine: Engine, at: datetime) -> None:
    """Two STOPs, one lifted as the code before lifted it: a delete (logged)."""
    with engine.begin() as conn:
        for digest in ("h-kept", "h-lifted"):
            conn.execute(
                text(
                    "INSERT INTO suppressions (address_hash, channel, reason, source, created_at) "
                    "VALUES (:h, 'sms', 'stop', 'sms:stop', :at)"
                ),
                {"h": digest, "at": at},
            )
        conn.execute(text("DELETE FROM suppressions WHERE address_hash = 'h-lifted'"))


def test_old_lifts_become_rows_and_verify_holds(old_url: str, clock: FixedClock) -> None:
    engine = make_engine(old_url)
    try:
        _old_lift(engine, clock.now())
        upgrade(old_url, "head")
        with unit_of_work(engine) as s:
            rows = s.scalars(select(Suppression.address_hash).order_by(Suppression.id)).all()
            in_force = s.scalars(
                select(Suppression.address_hash).where(suppression_in_force())
            ).all()
            lifts = s.scalars(select(SuppressionLift.suppression_id)).all()
        assert rows == ["h-kept", "h-lifted"]  # the deleted one is back, as history
        assert in_force == ["h-kept"]
        assert lifts == [2]
        assert verify_suppressions(engine) == []
        command.downgrade(alembic_config(old_url), BEFORE)  # and back: the lift is a delete
        with engine.connect() as conn:
            left = conn.execute(text("SELECT address_hash FROM suppressions")).scalars().all()
        assert left == ["h-kept"]
    finally:
        engine.dispose()
