"""When a privacy notice version takes effect, and which consents may cite it.

A consent is given under the notice the person was shown (GDPR art. 7(1): the
controller must be able to prove which text informed it). A version that was
never published, or one that had not yet taken effect when the consent was
captured, cannot have been shown: a record citing it would put a false
statement in the append-only ledger, and would make a consent look fresh under
the current notice. The consents import refuses such rows, each with its line
(:func:`cited_notice_problem`); a row that cites no version is not judged here.

Every notice version has an ``effective_from`` moment (UTC), set in the catalog
file and published with the notice; a date alone means midnight UTC that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time

__all__ = ["cited_notice_problem", "effective_moment", "format_moment"]


def effective_moment(value: date | datetime) -> datetime:
    """A catalog's ``effective_from`` as a UTC moment: a date is midnight UTC; a
    date-time without an offset is read as UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def format_moment(moment: datetime) -> str:
    """``2026-09-01`` for a midnight UTC, else ``2026-09-01T08:30:00Z``."""
    moment = moment.astimezone(UTC)
    if moment.time() == time(0):
        return moment.date().isoformat()
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def cited_notice_problem(
    version: str, captured_at: datetime, effective_from: Mapping[str, datetime]
) -> str | None:
    """Why a consent captured at ``captured_at`` cannot cite notice ``version`` (None: it can).

    ``effective_from`` maps every published version to the moment it took effect.
    A consent captured at that very moment or later may cite it.
    """
    takes_effect = effective_from.get(version)
    if takes_effect is None:
        return (
            f"notice_version {version!r} was never published: publish it "
            "(`reconsent catalog load`) and import the row again, or cite the version "
            "the person was shown"
        )
    if captured_at < takes_effect:
        return (
            f"captured_at {format_moment(captured_at)} is before notice {version} took "
            f"effect ({format_moment(takes_effect)}): nobody can have been shown it then; "
            "cite the version in effect at the time"
        )
    return None
