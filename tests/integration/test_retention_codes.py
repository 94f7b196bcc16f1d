"""The retention run deletes one-time code challenges that serve nothing any more (a day
after they expired and any lock ended), and keeps the ones the limits still count."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from models import OneTimeCode
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.ledger.append import LedgerContext
from reconsent.retention.minimisation import apply_retention


def test_old_code_challenges_are_deleted_recent_and_locked_ones_kept(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    ages = {
        "old": (now - timedelta(days=3), None),
        "locked-long": (now - timedelta(days=3), now + timedelta(minutes=5)),
        "recent": (now - timedelta(hours=2), None),
    }
    with unit_of_work(engine) as s:
        for name, (created, locked) in ages.items():
            s.add(
                OneTimeCode(
                    public_id=f"challenge-{name}",
                    address_hash="a" * 64,
                    code_digest="d" * 64,
                    client_hash="c" * 64,
                    created_at=created,
                    expires_at=created + timedelta(minutes=10),
                    locked_until=locked,
                )
            )
    ctx = LedgerContext("Test S.r.l.", "IT", now, b"k" * 32)
    dry = apply_retention(engine, ctx, unanswered_months=24, dry_run=True)
    assert dry.codes_deleted == 1 and dry.as_dict()["codes_deleted"] == 1
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OneTimeCode)) == 3  # dry: nothing
    assert apply_retention(engine, ctx, unanswered_months=24).codes_deleted == 1
    with unit_of_work(engine) as s:
        left = set(s.scalars(select(OneTimeCode.public_id)))
    assert left == {"challenge-locked-long", "challenge-recent"}
    assert apply_retention(engine, ctx, unanswered_months=24).codes_deleted == 0
