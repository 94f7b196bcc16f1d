"""Who is due for minimisation (storage limitation, GDPR art. 5(1)(e)): a pure rule.

A person's identity is kept while something the policy names still needs it;
once nothing does, it is reduced to the keyed address hashes the suppression
list needs (``reconsent retention apply``). What keeps a person:

* a consent **in force** (given, not past its expiry) to any purpose: kept,
  whatever the other purposes say;
* an **open rights request** (it must be answered with the data) or a
  **restriction** (art. 18: the person asked for the data to be kept, e.g. for a
  claim);
* a purpose whose **retention** (the catalog's months after a refusal, a
  withdrawal, an expiry) has not run out yet; a given consent past its expiry
  counts as expired at its expiry time, an RPO invalidation as a withdrawal;
  a purpose whose retention the catalog does not state keeps the person (no
  rule, no deletion);
* a purpose **asked and never answered**, and a person never asked at all:
  ``unanswered_months`` after their last request or import.

A person is due when every purpose that could keep them has lapsed; the
reason reported is the one whose limit ran out last. Contacts that share an
address (one person under several CRM ids) are minimised together or not at
all (:func:`keep_groups_whole`): the suppression of a minimised address would
otherwise stop a kept person who holds it. Purposes the person never
had a state for keep nobody. Months are calendar months (31 Aug + 6 -> 28/29 Feb).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconsent.kernel.vocab import ConsentState

__all__ = [
    "Keep",
    "Minimise",
    "PersonFacts",
    "PurposeFacts",
    "Verdict",
    "add_months",
    "decide",
    "keep_groups_whole",
]


class Minimise(StrEnum):
    """Why a person is minimised: the retention rule that ran out last."""

    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NEVER_ANSWERED = "never_answered"


class Keep(StrEnum):
    """Why a person is kept."""

    CONSENT_IN_FORCE = "consent_in_force"
    RESTRICTED = "restricted"
    OPEN_RIGHTS_REQUEST = "open_rights_request"
    WITHIN_RETENTION = "within_retention"
    NO_RETENTION_STATED = "no_retention_stated"
    RECENTLY_CONTACTED = "recently_contacted"  # never answered, within the months
    #: Shares an e-mail or a phone with a contact that is kept (one person, see
    #: ``same_person.py``): minimising it would suppress an address a kept person uses.
    SAME_PERSON_KEPT = "same_person_kept"


@dataclass(frozen=True)
class PurposeFacts:
    """One purpose's current state for the person (the consent-status projection)."""

    state: ConsentState
    occurred_at: datetime
    expires_at: datetime | None
    #: The catalog's ``retention`` (``{"refused": 0, "withdrawn": 0, "expired": 6}``);
    #: None: not stated.
    retention: Mapping[str, int] | None


@dataclass(frozen=True)
class PersonFacts:
    purposes: Sequence[PurposeFacts]
    #: When a wave last asked them (their latest request), None: never asked.
    last_request_at: datetime | None
    #: When the CRM import last created or changed them.
    imported_at: datetime
    restricted: bool = False
    open_rights_request: bool = False


@dataclass(frozen=True)
class Verdict:
    minimise: Minimise | None  # None: kept
    keep: Keep | None  # None: minimised

    @property
    def due(self) -> bool:
        return self.minimise is not None


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus calendar months, the day clamped to the month's length."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


#: The answered states with a retention period of their own, as the catalog names them.
_ANSWERED = {
    ConsentState.REFUSED: Minimise.REFUSED,
    ConsentState.WITHDRAWN: Minimise.WITHDRAWN,
    ConsentState.INVALIDATED: Minimise.WITHDRAWN,  # revoked by an RPO registration
    ConsentState.EXPIRED: Minimise.EXPIRED,
}


def _limit(
    facts: PurposeFacts, person: PersonFacts, unanswered_months: int, now: datetime
) -> tuple[datetime, Minimise] | Keep:
    """When this purpose stops keeping the person, and under which rule (or why it
    keeps them for now: a consent in force, no stated retention)."""
    state, since = facts.state, facts.occurred_at
    if state is ConsentState.GIVEN:
        if facts.expires_at is None or facts.expires_at > now:
            return Keep.CONSENT_IN_FORCE
        state, since = ConsentState.EXPIRED, facts.expires_at
    reason = _ANSWERED.get(state)
    if reason is None:  # asked (REQUESTED) and never answered
        last = max(d for d in (person.last_request_at, person.imported_at, since) if d)
        return add_months(last, unanswered_months), Minimise.NEVER_ANSWERED
    if facts.retention is None:
        return Keep.NO_RETENTION_STATED
    return add_months(since, int(facts.retention[reason.value])), reason


def decide(person: PersonFacts, *, unanswered_months: int, now: datetime) -> Verdict:
    """Whether ``person`` is due for minimisation at ``now`` (see the module)."""
    if person.restricted:
        return Verdict(None, Keep.RESTRICTED)
    if person.open_rights_request:
        return Verdict(None, Keep.OPEN_RIGHTS_REQUEST)
    limits: list[tuple[datetime, Minimise]] = []
    kept: Keep | None = None
    for facts in person.purposes:
        limit = _limit(facts, person, unanswered_months, now)
        if limit is Keep.CONSENT_IN_FORCE:
            return Verdict(None, Keep.CONSENT_IN_FORCE)
        if isinstance(limit, Keep):
            kept = kept or limit
        else:
            limits.append(limit)
    if not person.purposes:  # never asked about anything: imported and silent
        last = max(d for d in (person.last_request_at, person.imported_at) if d)
        limits.append((add_months(last, unanswered_months), Minimise.NEVER_ANSWERED))
    if kept is not None:
        return Verdict(None, kept)
    latest, reason = max(limits, key=lambda item: item[0])
    if latest > now:
        return Verdict(
            None,
            Keep.RECENTLY_CONTACTED if reason is Minimise.NEVER_ANSWERED else Keep.WITHIN_RETENTION,
        )
    return Verdict(reason, None)


def keep_groups_whole(
    verdicts: Mapping[int, Verdict], groups: Iterable[Sequence[int]]
) -> dict[int, Verdict]:
    """``verdicts`` by contact id, with every due member of a group (contacts sharing an
    address, transitively) that has a kept member turned into ``same_person_kept``."""
    out = dict(verdicts)
    for group in groups:
        members = [out[c] for c in group if c in out]
        if any(not v.due for v in members):
            for contact_id in group:
                if contact_id in out and out[contact_id].due:
                    out[contact_id] = Verdict(None, Keep.SAME_PERSON_KEPT)
    return out
