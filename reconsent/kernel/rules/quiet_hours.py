"""Calling hours per channel, in the contact's own timezone.

Presets (see shared/domain.md):
- ``it-telemarketing``: the Garante-approved Italian telemarketing code (in force
  28 Sept 2024): weekdays 09:00-20:00, Saturdays and pre-holidays 10:00-19:00,
  never Sundays or Italian public holidays. The holidays are the national ones
  and the person's **local** ones, passed in as ``local_days`` ((month, day)
  pairs: their municipality's patron-saint day, see
  :mod:`reconsent.kernel.rules.patron_days`): closed that day, reduced hours the
  day before. The other presets ignore holidays.
- ``us-tcpa``: every day 08:00-21:00 at the callee's location.
- ``daytime``: Monday to Saturday 09:00-20:00 (the default for SMS).
- ``always``: no restriction (email).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, LocalDays

Window = tuple[time, time] | None

_WEEKDAY = (time(9), time(20))
_REDUCED = (time(10), time(19))


def easter_sunday(year: int) -> date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = ((h + ell - 7 * m + 114) % 31) + 1
    return date(year, month, day)


#: St Francis of Assisi is a national holiday again from 2026 (L. 151/2025).
SAINT_FRANCIS_FROM = 2026


@lru_cache(maxsize=64)
def italian_holidays(year: int) -> frozenset[date]:
    """Italy's national public holidays in ``year`` (local patron-saint days are not here)."""
    fixed = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)]
    if year >= SAINT_FRANCIS_FROM:
        fixed.append((10, 4))
    days = {date(year, m, d) for m, d in fixed}
    days.add(easter_sunday(year) + timedelta(days=1))  # Easter Monday
    return frozenset(days)


def _is_it_holiday(day: date, local_days: LocalDays) -> bool:
    return day in italian_holidays(day.year) or (day.month, day.day) in local_days


def window_for(preset: str, day: date, local_days: LocalDays = NO_LOCAL_DAYS) -> Window:
    """The allowed local time window on ``day`` for ``preset`` (None: closed all day);
    ``local_days``: the person's local holidays (``it-telemarketing`` only)."""
    weekday = day.weekday()  # Monday = 0
    if preset == "always":
        return (time(0), time(23, 59, 59, 999999))
    if preset == "us-tcpa":
        return (time(8), time(21))
    if preset == "daytime":
        return None if weekday == 6 else _WEEKDAY
    if preset == "it-telemarketing":
        if weekday == 6 or _is_it_holiday(day, local_days):
            return None
        if weekday == 5 or _is_it_holiday(day + timedelta(days=1), local_days):
            return _REDUCED
        return _WEEKDAY
    raise ValueError(f"unknown quiet-hours preset {preset!r}")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Rome")  # imports validate timezones; this is a last resort


@lru_cache(maxsize=4096)  # pure: a batch asks the same (now, zone, preset) a thousand times
def next_allowed(
    now: datetime, tz_name: str, preset: str, local_days: LocalDays = NO_LOCAL_DAYS
) -> datetime:
    """``now`` if the channel may reach the person now, else the next opening (UTC);
    ``local_days``: the person's local holidays, as in :func:`window_for`."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    for offset in range(0, 15):
        day = local.date() + timedelta(days=offset)
        window = window_for(preset, day, local_days)
        if window is None:
            continue
        start = datetime.combine(day, window[0], tzinfo=tz)
        end = datetime.combine(day, window[1], tzinfo=tz)
        if offset == 0 and start <= local < end:
            return now
        if local < start:
            return start.astimezone(UTC)
    raise ValueError(f"no calling window within two weeks for preset {preset!r}")


def is_allowed(
    now: datetime, tz_name: str, preset: str, local_days: LocalDays = NO_LOCAL_DAYS
) -> bool:
    return next_allowed(now, tz_name, preset, local_days) == now
