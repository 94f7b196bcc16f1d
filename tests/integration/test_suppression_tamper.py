"""An insider rewrites the suppression list and its log together; checkpoints tell.

The list-against-log check cannot see a suppression removed from both (or both
rewritten alike): the signed checkpoint holds a digest of every log entry up to
its mark, and ``verify --checkpoints`` names the suppression.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from reconsent.db import make_engine, unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, SuppressionReason
from reconsent.ledger.checkpoint_signing import new_key, public_key_of
from reconsent.ledger.checkpoints import take_checkpoint, verify_with_checkpoints
from reconsent.ledger.suppression_check import verify_suppressions
from reconsent.ledger.suppression_list import suppress_address
from tests.support.postgres import owner_url

KEY = new_key()
TABLES = ("suppressions", "suppression_log", "suppression_lifts")


@contextmanager
def _owner_without_triggers(engine: Engine) -> Iterator[Connection]:
    """As the schema's owner, every trigger of the suppression tables out of the way."""
    owner = make_engine(owner_url(engine.url.render_as_string(hide_password=False)))
    try:
        with owner.begin() as conn:
            if conn.dialect.name == "postgresql":
                for table in TABLES:
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                names = conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                        "('suppressions', 'suppression_log', 'suppression_lifts')"
                    )
                ).scalars()
                for name in list(names):
                    conn.execute(text(f"DROP TRIGGER {name}"))
            yield conn
            if conn.dialect.name == "postgresql":
                for table in TABLES:
                    conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    finally:
        owner.dispose()


@pytest.fixture
def folder(engine: Engine, clock: FixedClock, tmp_path: Path) -> Path:
    """Three STOPs and a bounce, then a signed checkpoint."""
    with unit_of_work(engine) as s:
        for digest, channel, reason in (
            ("h-1", Channel.SMS, SuppressionReason.STOP),
            ("h-2", Channel.SMS, SuppressionReason.STOP),
            ("h-3", Channel.SMS, SuppressionReason.STOP),
            ("h-4", Channel.EMAIL, SuppressionReason.BOUNCE),
        ):
            suppress_address(
                s, address_hash=digest, channel=channel, reason=reason, source="t", now=clock.now()
            )
    path = tmp_path / "checkpoints"
    checkpoint = take_checkpoint(engine, path, KEY, clock.now(), "Test S.r.l.")
    assert checkpoint.statement["last_log_id"] == 4
    assert checkpoint.statement["log_entries"] == 4
    return path


def _verify(engine: Engine, folder: Path) -> list[str]:
    url = engine.url.render_as_string(hide_password=False)
    report = verify_with_checkpoints(url, folder, public_key_of(KEY))
    return [b.detail for b in report.breaks if b.kind == "checkpoint_mismatch"]


def test_an_untouched_list_verifies(engine: Engine, folder: Path) -> None:
    assert _verify(engine, folder) == []


def test_a_suppression_removed_with_its_log_entry_is_named(engine: Engine, folder: Path) -> None:
    with _owner_without_triggers(engine) as conn:
        conn.execute(text("DELETE FROM suppression_log WHERE address_hash = 'h-2'"))
        conn.execute(text("DELETE FROM suppressions WHERE address_hash = 'h-2'"))
    assert verify_suppressions(engine) == []  # list and log agree: only the checkpoint knows
    found = _verify(engine, folder)
    assert len(found) == 1
    assert "suppression 2: log entry #2 is gone" in found[0]


def test_a_suppression_rewritten_with_its_log_entry_is_named(engine: Engine, folder: Path) -> None:
    with _owner_without_triggers(engine) as conn:
        conn.execute(text("UPDATE suppression_log SET channel = 'ivr' WHERE address_hash = 'h-3'"))
        conn.execute(text("UPDATE suppressions SET channel = 'ivr' WHERE address_hash = 'h-3'"))
    assert verify_suppressions(engine) == []
    found = _verify(engine, folder)
    assert len(found) == 1
    assert "suppression 3: log entry #3 was rewritten" in found[0]


def test_a_lift_slipped_into_the_signed_past_is_named(engine: Engine, folder: Path) -> None:
    """Log entry #2 swapped for a lift of suppression 1, a lift row to match."""
    with _owner_without_triggers(engine) as conn:
        conn.execute(text("DELETE FROM suppression_log WHERE id = 2"))
        conn.execute(text("DELETE FROM suppressions WHERE id = 2"))
        conn.execute(
            text(
                "INSERT INTO suppression_log (id, action, suppression_id, address_hash, channel, "
                "reason, source, at) SELECT 2, 'lifted', id, address_hash, channel, reason, "
                "'sms:start', created_at FROM suppressions WHERE id = 1"
            )
        )
        conn.execute(
            text(
                "INSERT INTO suppression_lifts (suppression_id, source, lifted_at) "
                "SELECT id, 'sms:start', created_at FROM suppressions WHERE id = 1"
            )
        )
    assert verify_suppressions(engine) == []
    found = _verify(engine, folder)
    assert found == [f"{found[0].split(':')[0]}: suppression 2: log entry #2 was rewritten"]
