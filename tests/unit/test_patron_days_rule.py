"""Local patron-saint holidays: per municipality, built in and configurable, pure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reconsent.kernel.errors import InvalidRowError
from reconsent.kernel.rules.escalation import Gate, RequestView, StepSpec, decide
from reconsent.kernel.rules.patron_days import (
    BUILT_IN,
    NO_LOCAL_DAYS,
    PatronCalendar,
    parse_month_day,
    parse_municipality,
)
from reconsent.kernel.rules.quiet_hours import is_allowed, next_allowed, window_for
from reconsent.kernel.vocab import Channel, RequestBasis
from reconsent.settings import Settings

MILANO, ROMA, TORINO = "015146", "058091", "001272"
CALENDAR = PatronCalendar.build()
IT = "it-telemarketing"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_milano_is_closed_on_sant_ambrogio_and_roma_is_not() -> None:
    milano, roma = CALENDAR.local_days(MILANO), CALENDAR.local_days(ROMA)
    monday = utc(2026, 12, 7, 10, 0)  # 11:00 in Rome and Milan, Monday 7 December 2026
    assert window_for(IT, date(2026, 12, 7), milano) is None
    assert not is_allowed(monday, "Europe/Rome", IT, milano)
    # 8 December is a national holiday: Milan's calls resume Wednesday 9, 09:00 local.
    assert next_allowed(monday, "Europe/Rome", IT, milano) == utc(2026, 12, 9, 8, 0)
    # In Rome 7 December is only the eve of a holiday: reduced hours, open at 11:00.
    assert is_allowed(monday, "Europe/Rome", IT, roma)
    assert is_allowed(monday, "Europe/Rome", IT)  # nobody's municipality: national days only


def test_the_eve_of_a_patron_day_has_reduced_hours() -> None:
    milano = CALENDAR.local_days(MILANO)
    eve = date(2027, 12, 6)  # Monday; Sant'Ambrogio is Tuesday 7 December 2027
    assert window_for(IT, eve, milano) == window_for(IT, date(2027, 12, 4))  # like a Saturday
    assert window_for(IT, eve) != window_for(IT, eve, milano)  # a plain Monday elsewhere
    early = utc(2027, 12, 6, 8, 30)  # 09:30 local
    assert next_allowed(early, "Europe/Rome", IT, milano) == utc(2027, 12, 6, 9, 0)
    assert next_allowed(early, "Europe/Rome", IT) == early
    late = utc(2027, 12, 6, 18, 30)  # 19:30 local: closed; 7 and 8 closed; Thursday 9
    assert next_allowed(late, "Europe/Rome", IT, milano) == utc(2027, 12, 9, 8, 0)


def test_only_the_italian_code_knows_local_holidays() -> None:
    milano = CALENDAR.local_days(MILANO)
    for preset in ("daytime", "always", "us-tcpa"):
        assert window_for(preset, date(2026, 12, 7), milano) == window_for(
            preset, date(2026, 12, 7)
        )


def test_settings_add_correct_and_remove_days() -> None:
    settings = Settings(
        _env_file=None,
        patron_days={"58091": "12-07", "012345": ["05-01", "09-29"], TORINO: []},
    )
    assert settings.patron_days == {
        ROMA: ["12-07"],
        "012345": ["05-01", "09-29"],
        TORINO: [],
    }
    calendar = settings.patron_calendar()
    assert calendar.local_days(ROMA) == {(12, 7)}  # replaces 29 June
    assert calendar.local_days("012345") == {(5, 1), (9, 29)}
    assert calendar.local_days(TORINO) == NO_LOCAL_DAYS  # removed
    assert calendar.local_days(MILANO) == {(12, 7)}  # untouched
    assert not is_allowed(utc(2026, 12, 7, 10), "Europe/Rome", IT, calendar.local_days(ROMA))


@pytest.mark.parametrize("bad", [{"MI": "12-07"}, {MILANO: "12-32"}, {MILANO: ["7 Dec"]}])
def test_bad_settings_fail_at_start_up(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"ISTAT municipality code|not a day of the year"):
        Settings(_env_file=None, patron_days=bad)


def test_municipality_codes() -> None:
    assert parse_municipality(" 015146 ") == MILANO
    assert parse_municipality("15146") == MILANO  # an export that dropped the leading zero
    assert parse_municipality("1272") == TORINO
    assert parse_municipality("") is None
    for bad in ("Milano", "MI", "1234567", "0999", "01 5146"):
        with pytest.raises(InvalidRowError, match="not an ISTAT municipality code"):
            parse_municipality(bad)
    assert parse_month_day("02-29") == (2, 29)
    with pytest.raises(InvalidRowError):
        parse_month_day("02-30")


def test_built_in_table_is_well_formed() -> None:
    assert all(len(code) == 6 and code.isdigit() for code in BUILT_IN)
    assert len({city for city, _ in BUILT_IN.values()}) == len(BUILT_IN)
    for _city, days in BUILT_IN.values():
        assert days and all(date(2024, month, day) for month, day in days)
    expected = {MILANO: (12, 7), ROMA: (6, 29), "063049": (9, 19), TORINO: (6, 24)}
    assert all(CALENDAR.local_days(code) == {day} for code, day in expected.items())


def test_the_escalation_waits_for_the_persons_own_calendar() -> None:
    step = StepSpec(Channel.IVR, wait=utc(2026, 1, 2) - utc(2026, 1, 1), quiet_preset=IT)
    request = RequestView(0, None, RequestBasis.PRIOR_CONSENT, any_sent=False)
    now = utc(2027, 6, 24, 8, 0)  # Thursday 24 June 2027, 10:00 in Turin: San Giovanni
    torino = Gate(None, "Europe/Rome", {Channel.IVR: None}, CALENDAR.local_days(TORINO))
    roma = Gate(None, "Europe/Rome", {Channel.IVR: None}, CALENDAR.local_days(ROMA))
    waits = decide(request, None, torino, [step], now, claim_lease=step.wait)
    assert (waits.outcome.value, waits.reason, waits.until) == (
        "wait",
        "quiet_hours",
        utc(2027, 6, 25, 7, 0),
    )
    assert decide(request, None, roma, [step], now, claim_lease=step.wait).outcome.value == "send"


def test_answers_stay_cached_per_calendar() -> None:
    days = CALENDAR.local_days(MILANO)
    now = utc(2031, 3, 4, 10, 0)
    next_allowed(now, "Europe/Rome", IT, days)
    hits = next_allowed.cache_info().hits
    assert next_allowed(now, "Europe/Rome", IT, frozenset(days)) == now  # an equal set
    assert next_allowed.cache_info().hits == hits + 1
