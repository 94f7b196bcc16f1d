"""Local patron-saint holidays, per municipality: pure data and lookups.

In Italy each municipality's patron-saint day is a public holiday there, so the
Garante-approved telemarketing code (no calls on holidays, reduced hours the day
before) closes that city's calls that day (``it-telemarketing`` in
:mod:`reconsent.kernel.rules.quiet_hours`). A contact names its municipality by
its **ISTAT code** (six digits, the province's three then the town's: 015146 is
Milano; an export that lost the leading zeros, 15146, is read the same), from the
contacts CSV's optional ``municipality`` column.

:data:`BUILT_IN` holds the days of the main cities (those we are sure of); a
deployment adds or corrects days with ``RECONSENT_PATRON_DAYS`` (JSON, code to
``"MM-DD"`` or a list of them; an entry replaces the built-in one, an empty
list removes it). A code with no entry has no local holiday. Days are fixed
calendar days, every year; a movable local feast must be set year by year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from reconsent.kernel.errors import InvalidRowError

__all__ = [
    "BUILT_IN",
    "NO_LOCAL_DAYS",
    "LocalDays",
    "PatronCalendar",
    "parse_month_day",
    "parse_municipality",
]

#: (month, day) pairs, every year: hashable, so calling-hours answers can be cached.
LocalDays = frozenset[tuple[int, int]]
NO_LOCAL_DAYS: LocalDays = frozenset()

#: ISTAT municipality code -> (city, its patron-saint holidays as (month, day)).
BUILT_IN: Mapping[str, tuple[str, tuple[tuple[int, int], ...]]] = {
    "001272": ("Torino", ((6, 24),)),  # San Giovanni Battista
    "007003": ("Aosta", ((9, 7),)),  # San Grato
    "010025": ("Genova", ((6, 24),)),  # San Giovanni Battista
    "015146": ("Milano", ((12, 7),)),  # Sant'Ambrogio
    "016024": ("Bergamo", ((8, 26),)),  # Sant'Alessandro
    "017029": ("Brescia", ((2, 15),)),  # Santi Faustino e Giovita
    "022205": ("Trento", ((6, 26),)),  # San Vigilio
    "023091": ("Verona", ((5, 21),)),  # San Zeno
    "027042": ("Venezia", ((4, 25),)),  # San Marco (also Liberation Day)
    "028060": ("Padova", ((6, 13),)),  # Sant'Antonio
    "032006": ("Trieste", ((11, 3),)),  # San Giusto
    "034027": ("Parma", ((1, 13),)),  # Sant'Ilario
    "036023": ("Modena", ((1, 31),)),  # San Geminiano
    "037006": ("Bologna", ((10, 4),)),  # San Petronio (a national holiday too from 2026)
    "042002": ("Ancona", ((5, 4),)),  # San Ciriaco
    "048017": ("Firenze", ((6, 24),)),  # San Giovanni Battista
    "050026": ("Pisa", ((6, 17),)),  # San Ranieri
    "054039": ("Perugia", ((1, 29),)),  # San Costanzo
    "058091": ("Roma", ((6, 29),)),  # Santi Pietro e Paolo
    "063049": ("Napoli", ((9, 19),)),  # San Gennaro
    "065116": ("Salerno", ((9, 21),)),  # San Matteo
    "072006": ("Bari", ((12, 6),)),  # San Nicola
    "075035": ("Lecce", ((8, 26),)),  # Sant'Oronzo
    "082053": ("Palermo", ((7, 15),)),  # Santa Rosalia
    "083048": ("Messina", ((6, 3),)),  # Madonna della Lettera
    "087015": ("Catania", ((2, 5),)),  # Sant'Agata
    "092009": ("Cagliari", ((10, 30),)),  # San Saturnino
}

_CODE = re.compile(r"^\d{4,6}$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def parse_municipality(text: str) -> str | None:
    """An ISTAT municipality code, six digits (``15146`` -> ``015146``); empty: None."""
    value = text.strip()
    if not value:
        return None
    if not _CODE.match(value) or int(value) < 1001:
        raise InvalidRowError(
            f"municipality: {value[:12]!r} is not an ISTAT municipality code "
            "(six digits, e.g. 015146 for Milano)"
        )
    return value.zfill(6)


def parse_month_day(text: str) -> tuple[int, int]:
    """``"12-07"`` -> ``(12, 7)``; 02-29 is allowed (it happens in leap years)."""
    match = _MONTH_DAY.match(text.strip())
    try:
        if match is None:
            raise ValueError
        month, day = int(match.group(1)), int(match.group(2))
        date(2024, month, day)  # a leap year: every real day of the year exists
    except ValueError:
        raise InvalidRowError(f"{text[:12]!r} is not a day of the year (MM-DD)") from None
    return month, day


@dataclass(frozen=True)
class PatronCalendar:
    """The local holidays of every municipality that has some, built once per process."""

    days: Mapping[str, LocalDays] = field(default_factory=dict)

    @classmethod
    def build(
        cls, overrides: Mapping[str, Iterable[tuple[int, int]]] | None = None
    ) -> PatronCalendar:
        """:data:`BUILT_IN`, each code of ``overrides`` replacing its entry (empty: none)."""
        days = {code: frozenset(pairs) for code, (_city, pairs) in BUILT_IN.items()}
        for code, pairs in (overrides or {}).items():
            days[code] = frozenset(pairs)
        return cls({code: found for code, found in days.items() if found})

    def local_days(self, municipality: str | None) -> LocalDays:
        """The patron-saint days of ``municipality`` (none for an unknown or no code)."""
        if municipality is None:
            return NO_LOCAL_DAYS
        return self.days.get(municipality, NO_LOCAL_DAYS)
