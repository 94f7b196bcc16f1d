"""Which notice a consent may cite: published, and in effect when it was captured."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from reconsent.kernel.rules.notice_dates import (
    cited_notice_problem,
    effective_moment,
    format_moment,
)

SEPT = datetime(2026, 9, 1, tzinfo=UTC)
PUBLISHED = {"2024-01": datetime(2024, 1, 1, tzinfo=UTC), "2026-09": SEPT}


def test_a_date_is_midnight_utc_and_a_naive_time_is_utc() -> None:
    assert effective_moment(date(2026, 9, 1)) == SEPT
    assert effective_moment(datetime(2026, 9, 1, 8, 30)) == SEPT + timedelta(hours=8, minutes=30)
    rome = timezone(timedelta(hours=2))
    assert effective_moment(datetime(2026, 9, 1, 2, 0, tzinfo=rome)) == SEPT


def test_moments_read_as_dates_when_they_are_midnight() -> None:
    assert format_moment(SEPT) == "2026-09-01"
    assert format_moment(SEPT + timedelta(hours=6, seconds=5)) == "2026-09-01T06:00:05Z"


@pytest.mark.parametrize(
    ("version", "captured", "problem"),
    [
        ("2026-09", SEPT, None),  # the very moment it took effect
        ("2026-09", SEPT + timedelta(days=40), None),
        ("2024-01", SEPT + timedelta(days=40), None),  # an older notice stays citable
        ("2026-09", SEPT - timedelta(seconds=1), "before notice 2026-09 took effect"),
        ("2024-01", datetime(2023, 12, 31, 23, 0, tzinfo=UTC), "took effect (2024-01-01)"),
        ("2025-07", SEPT, "notice_version '2025-07' was never published"),
    ],
)
def test_cited_notice_problem(version: str, captured: datetime, problem: str | None) -> None:
    found = cited_notice_problem(version, captured, PUBLISHED)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
