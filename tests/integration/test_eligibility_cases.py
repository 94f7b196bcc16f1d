"""The planning SQL gives every case of the eligibility table the verdict the pure rule
gives (tests/unit/test_eligibility_rule.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select

from models import Contact, Suppression, Wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.eligibility_cases import CASES, REFERENCE_PURPOSES
from reconsent.kernel.vocab import Channel, ConsentState
from reconsent.planning import classification
from reconsent.planning.classification import classify
from tests.support import factories


def _write(engine: Engine, clock: FixedClock) -> dict[tuple[bool, bool], tuple[int, list[int]]]:
    """Every case as a contact with its history; one wave per (soft spam, include missing)."""
    now = clock.now()
    waves: dict[tuple[bool, bool], tuple[int, list[int]]] = {}
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        for key in {(c.soft_spam, c.include_missing) for c in CASES}:
            soft_spam, include_missing = key
            wave = factories.add_wave(
                s,
                now,
                name=f"soft spam {soft_spam}, missing {include_missing}",
                lawful_basis={"email": "soft_spam"} if soft_spam else {},
                stale={"stale_after_days": 365, "include_missing": include_missing},
            )
            waves[key] = (wave.id, [])
        for number, case in enumerate(CASES):
            contact = factories.add_contact(
                s,
                now,
                f"case{number}",
                email=f"case{number}@example.com" if case.email else None,
                phone=f"+3933300{number:05d}" if case.phone else None,
                customer_since=date(2025, 1, 1) if case.customer else None,
            )
            if case.erased:
                contact.erased_at = now
            if case.restricted:
                contact.restricted_at = now
            for code, mark in case.marks.items():
                factories.record(
                    s,
                    now,
                    contact,
                    purposes[code],
                    mark.state,
                    now - timedelta(days=30 if mark.fresh else 800),
                    provable=mark.provable,
                )
            if case.other_record:
                factories.record(
                    s, now, contact, purposes["profiling"], ConsentState.GIVEN,
                    now - timedelta(days=5),
                )  # fmt: skip
            if case.every is not None:
                s.add(
                    Suppression(
                        contact_id=contact.id, channel=None, reason=case.every,
                        source="case", created_at=now,
                    )
                )  # fmt: skip
            for channel, reason in case.channel_suppressions.items():
                digest = contact.email_hash if channel is Channel.EMAIL else contact.phone_hash
                s.add(
                    Suppression(
                        address_hash=digest, channel=channel, reason=reason,
                        source="case", created_at=now,
                    )
                )  # fmt: skip
            waves[case.soft_spam, case.include_missing][1].append(contact.id)
    return waves


@pytest.mark.parametrize("per_sum", [12, 1], ids=["one-sum", "a-sum-per-purpose"])
def test_the_planning_sql_agrees_with_the_rule_on_every_case(
    engine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, per_sum: int
) -> None:
    # The consent facts are bits of one sum per 12 purposes: a sum per purpose takes the
    # path of the waves with more purposes than one sum holds.
    monkeypatch.setattr(classification, "PURPOSES_PER_SUM", per_sum)
    waves = _write(engine, clock)
    found: dict[int, tuple[str, str, dict[Channel, str | None]]] = {}
    with unit_of_work(engine) as s:
        for wave_id, contact_ids in waves.values():
            classified = classify(s, s.get_one(Wave, wave_id), clock.now())
            rows = s.execute(
                select(classified).where(classified.c.contact_id.in_(contact_ids))
            ).all()
            for row in rows:
                blocks = {c: row._mapping[f"block_{c.value}"] for c in REFERENCE_PURPOSES.values()}
                found[row.contact_id] = (row.reason, row.basis, blocks)
        by_name = {c.external_id: c.id for c in s.scalars(select(Contact))}
    mismatches = {
        case.name: found[by_name[f"case{number}"]]
        for number, case in enumerate(CASES)
        if found[by_name[f"case{number}"]] != (case.reason, case.basis, case.blocks)
    }
    assert mismatches == {}
