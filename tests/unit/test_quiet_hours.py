from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reconsent.kernel.rules.quiet_hours import easter_sunday, is_allowed, next_allowed


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_easter() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Tuesday 1 Dec 2026, 10:00 UTC = 11:00 Rome: open
        (utc(2026, 12, 1, 10, 0), utc(2026, 12, 1, 10, 0)),
        # Tuesday 07:00 UTC = 08:00 Rome: opens at 09:00 Rome = 08:00 UTC
        (utc(2026, 12, 1, 7, 0), utc(2026, 12, 1, 8, 0)),
        # Tuesday 19:30 UTC = 20:30 Rome: closed; Wednesday 9 Dec is not a holiday
        (utc(2026, 12, 1, 19, 30), utc(2026, 12, 2, 8, 0)),
        # Saturday 5 Dec 09:30 Rome: Saturday opens 10:00
        (utc(2026, 12, 5, 8, 30), utc(2026, 12, 5, 9, 0)),
        # Sunday 6 Dec: closed; Monday 7 Dec is a pre-holiday (8 Dec): 10:00 Rome
        (utc(2026, 12, 6, 11, 0), utc(2026, 12, 7, 9, 0)),
        # Monday 7 Dec 18:30 Rome (pre-holiday closes 19:00): open
        (utc(2026, 12, 7, 17, 30), utc(2026, 12, 7, 17, 30)),
        # Monday 7 Dec 19:30 Rome: closed; 8 Dec holiday; 9 Dec 09:00 Rome
        (utc(2026, 12, 7, 18, 30), utc(2026, 12, 9, 8, 0)),
        # Christmas Eve (pre-holiday), 25 and 26 closed, 27 is Sunday -> Monday 28
        (utc(2026, 12, 24, 18, 30), utc(2026, 12, 28, 8, 0)),
    ],
)
def test_italian_telemarketing_code_in_rome(now: datetime, expected: datetime) -> None:
    assert next_allowed(now, "Europe/Rome", "it-telemarketing") == expected


def test_windows_are_local_to_the_contact() -> None:
    # 08:30 UTC in winter: 09:30 in Rome (open) but 08:30 in London (closed until 09:00).
    now = utc(2026, 12, 1, 8, 30)
    assert is_allowed(now, "Europe/Rome", "daytime")
    assert next_allowed(now, "Europe/London", "daytime") == utc(2026, 12, 1, 9, 0)
    # TCPA: 08:00-21:00 in New York (UTC-5 in December)
    assert next_allowed(utc(2026, 12, 1, 12, 0), "America/New_York", "us-tcpa") == utc(
        2026, 12, 1, 13, 0
    )


def test_dst_change_is_respected() -> None:
    # 30 March 2027 (Tuesday after the switch to CEST, UTC+2; Monday 29 is Easter Monday)
    assert next_allowed(utc(2027, 3, 29, 6, 0), "Europe/Rome", "it-telemarketing") == utc(
        2027, 3, 30, 7, 0
    )


def test_always_and_daytime_sunday() -> None:
    sunday = utc(2026, 12, 6, 12, 0)
    assert is_allowed(sunday, "Europe/Rome", "always")
    assert next_allowed(sunday, "Europe/Rome", "daytime") == utc(2026, 12, 7, 8, 0)


def test_unknown_preset_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        next_allowed(utc(2026, 12, 1, 10), "Europe/Rome", "never-heard-of-it")


def test_the_fourth_of_october_is_a_holiday_again_from_2026() -> None:
    from datetime import date

    from reconsent.kernel.rules.quiet_hours import italian_holidays, window_for

    assert date(2026, 10, 4) in italian_holidays(2026)
    assert date(2025, 10, 4) not in italian_holidays(2025)
    # Its first weekday occurrence: Monday 4 October 2027, no calls that day.
    assert window_for("it-telemarketing", date(2027, 10, 4)) is None
    assert window_for("it-telemarketing", date(2027, 10, 1)) is not None
