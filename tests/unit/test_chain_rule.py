"""The hash chain's schemes: v1 unchanged for old chains, v2 covering every field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from reconsent.kernel.rules.chain import (
    CURRENT_VERSION,
    HASHED_FIELDS_V1,
    HASHED_FIELDS_V2,
    HASHED_FIELDS_V3,
    event_hash,
)
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState

AT = datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC)
V1: dict[str, Any] = {
    "event_id": "6f1c2b9e-1111-4a3b-9c1d-000000000001",
    "subject_id": "9d6b0f3a-2222-4c5d-8e7f-000000000002",
    "purpose": "marketing_email",
    "state": ConsentState.GIVEN,
    "occurred_at": AT,
    "expires_at": datetime(2028, 11, 29, 9, 15, tzinfo=UTC),
    "controller": "Contact Centre Demo",
    "jurisdiction": "IT",
    "language": "it",
    "notice_version": "2026-09",
    "notice_digest": "a" * 64,
    "method": CollectionMethod.PORTAL,
    "channel": Channel.EMAIL,
    "actor": "subject",
    "wave_id": 3,
    "request_id": 41,
    "attempt_id": 77,
    "provider_message_id": "sg-1",
    "evidence": {"ip": "203.0.113.0", "ua": "Firefox"},
    "provable": True,
    "source": None,
}
V2 = {
    **V1,
    "contact_id": 12,
    "purpose_id": 1,
    "recorded_at": AT + timedelta(seconds=1),
    "notice_id": 5,
    "dedupe_key": "portal:41:1",
}


def test_v1_hashes_exactly_as_before() -> None:
    # Computed by the code before ledger v2 (7321516): old chains must keep verifying.
    assert event_hash(V1, None) == (
        "731536ef9e01c84872c92bb2d3a22c30b084d29068d076b1294943ea38983c1d"
    )
    assert event_hash(V1, "b" * 64, 1) == (
        "2676d5c72d87aedac2c0798826a82a739a9f2a8abebbbeeb7be1b366f32d08ba"
    )


def test_v1_ignores_what_it_never_covered() -> None:
    assert event_hash(V2, None, 1) == event_hash(V1, None, 1)


def test_v2_covers_every_field_that_gives_an_event_its_meaning() -> None:
    assert set(HASHED_FIELDS_V1) < set(HASHED_FIELDS_V2)
    assert {
        "contact_id", "purpose_id", "recorded_at", "notice_id", "dedupe_key"
    } <= set(HASHED_FIELDS_V2)  # fmt: skip
    base = event_hash(V2, "c" * 64, 2)
    for name in HASHED_FIELDS_V2:
        changed = {**V2, name: "something else" if V2[name] != "something else" else None}
        assert event_hash(changed, "c" * 64, 2) != base, name
    assert event_hash(V2, "d" * 64, 2) != base
    assert event_hash(V2, None, 2) != base


def test_v2_names_its_version_so_a_body_is_never_read_under_another_scheme() -> None:
    assert event_hash(V2, None, 2) != event_hash(V2, None, 1)


def test_v2_times_are_canonical_utc() -> None:
    rome = timezone(timedelta(hours=1))
    local = {**V2, "occurred_at": AT.astimezone(rome), "recorded_at": V2["recorded_at"]}
    assert event_hash(local, None, 2) == event_hash(V2, None, 2)
    with pytest.raises(ValueError, match="naive"):
        event_hash({**V2, "occurred_at": AT.replace(tzinfo=None)}, None, 2)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hash version"):
        event_hash(V2, None, 4)


def test_new_events_are_v3_which_covers_the_v2_fields_and_its_own_version() -> None:
    assert CURRENT_VERSION == 3
    assert HASHED_FIELDS_V3 == HASHED_FIELDS_V2
    base = event_hash(V2, "c" * 64, 3)
    assert base != event_hash(V2, "c" * 64, 2)  # the version is hashed: no downgrade
    for name in HASHED_FIELDS_V3:
        changed = {**V2, name: "something else" if V2[name] != "something else" else None}
        assert event_hash(changed, "c" * 64, 3) != base, name
