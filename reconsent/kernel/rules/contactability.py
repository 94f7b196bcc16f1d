"""May this person be contacted on this channel now? The dialler's question, as data.

The answer is the eligibility rule set of the waves
(:func:`reconsent.kernel.rules.eligibility.every_reason`, the same table
:func:`~reconsent.kernel.rules.eligibility.evaluate` stops at the first row of)
read for a *contact*, not for a re-consent request, plus what only a contact
needs: a consent in force, the RPO registration and the calling hours
(:mod:`reconsent.kernel.rules.quiet_hours`). Every reason that applies is
listed, so an agent knows all that stands in the way:

==========================  ====================================================
reason                      when
==========================  ====================================================
``erased``                  the identity was erased
``restricted``              processing is restricted (art. 18)
``objected``                an every-channel objection, opt-out or spam report
``suppressed``              any other every-channel suppression
``refused`` / ``withdrawn`` every judged purpose was refused / withdrawn
``no_address``              no address for the channel on file
``suppressed:<reason>``     the channel (or its address hash) is suppressed
``no_channel_consent``      no provable consent bound to the channel
``consent_expired``         that consent lapsed (past its lifetime, or expired)
``rpo_not_consulted``       an Italian number and no RPO consultation in 15 days
``rpo_registered``          the number is in the RPO since after its consent
``frequency_cap``           asked too often by waves in the cap window
``outside_calling_hours``   the channel's calling hours are closed now
==========================  ====================================================

What asks *again* for a consent (``consent_fresh``, ``missing_not_included``) is
not about contact and is not a reason here; a channel is judged one at a time,
so its block word is given instead of the wave's summary (``no_lawful_basis``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconsent.kernel.rules.eligibility import (
    PersonFacts,
    WaveRules,
    all_blocked_reason,
    channel_blocks,
    every_reason,
)
from reconsent.kernel.rules.patron_days import NO_LOCAL_DAYS, LocalDays
from reconsent.kernel.rules.quiet_hours import next_allowed, window_for, zone
from reconsent.kernel.vocab import Channel, ConsentState, Exclusion

__all__ = [
    "CONSENT_EXPIRED",
    "OUTSIDE_CALLING_HOURS",
    "RPO_REGISTERED",
    "ContactFacts",
    "Contactability",
    "calling_window",
    "judge_contact",
    "rpo_revokes",
    "state_in_force",
]

CONSENT_EXPIRED = "consent_expired"
RPO_REGISTERED = "rpo_registered"
OUTSIDE_CALLING_HOURS = "outside_calling_hours"

#: Reasons about asking again: not a contact's.
_NOT_ABOUT_CONTACT = frozenset({Exclusion.FRESH.value, Exclusion.MISSING_NOT_INCLUDED.value})


@dataclass(frozen=True)
class ContactFacts:
    """One person as the contactability check reads them (see :func:`judge_contact`)."""

    person: PersonFacts  # the judged purposes: the channel's, or the one asked about
    timezone: str
    local_days: LocalDays = NO_LOCAL_DAYS
    #: The number's RPO registration revokes its call consent (:func:`rpo_revokes`).
    rpo_registered: bool = False


@dataclass(frozen=True)
class Contactability:
    allowed: bool
    reasons: tuple[str, ...]
    #: Phone channels, while the window is open: seconds until it closes.
    seconds_in_window: int | None
    #: When the window is closed: its next opening (UTC; None when open).
    next_allowed_at: datetime | None


def calling_window(
    now: datetime, tz_name: str, preset: str, local_days: LocalDays = NO_LOCAL_DAYS
) -> tuple[int | None, datetime | None]:
    """(seconds left in the open window, None) or (None, the next opening in UTC)."""
    opening = next_allowed(now, tz_name, preset, local_days)
    if opening != now:
        return None, opening
    local = now.astimezone(zone(tz_name))
    window = window_for(preset, local.date(), local_days)
    assert window is not None  # next_allowed said the window is open today
    end = datetime.combine(local.date(), window[1], tzinfo=local.tzinfo)
    return int((end - local) // timedelta(seconds=1)), None


def rpo_revokes(
    registered_at: datetime | None, contract_exempt: bool, consent_given_at: datetime | None
) -> bool:
    """A registration revokes the call consents given before it, unless the person has an
    active contract (D.P.R. 26/2022); a consent given after it stands."""
    if registered_at is None or contract_exempt:
        return False
    return consent_given_at is None or consent_given_at <= registered_at


def state_in_force(
    state: ConsentState | None, expires_at: datetime | None, now: datetime
) -> ConsentState | None:
    """A given consent past its expiry reads as lapsed (EXPIRED) for a contact."""
    if state is ConsentState.GIVEN and expires_at is not None and expires_at <= now:
        return ConsentState.EXPIRED
    return state


def _in_force(facts: ContactFacts, channel: Channel) -> bool:
    return any(
        p.channel is channel and p.state is ConsentState.GIVEN and p.provable
        for p in facts.person.purposes
    )


def judge_contact(
    facts: ContactFacts,
    channel: Channel,
    rules: WaveRules,
    *,
    now: datetime,
    quiet_preset: str,
) -> Contactability:
    """Every reason why ``channel`` may not reach the person at ``now`` (empty: allowed).

    ``rules`` judges that one channel (``channels=(channel,)``), with the frequency cap
    and the RPO consultation of the caller, and no declared basis: a contact needs a
    consent of its own."""
    reasons = [r for r in every_reason(facts.person, rules) if r not in _NOT_ABOUT_CONTACT]
    blocks = channel_blocks(facts.person, rules)
    block = blocks.get(channel)
    if block is not None:
        # The wave's summary of its blocked channels (the last time it is named) gives
        # way to the channel's own word.
        summary = all_blocked_reason(blocks)
        del reasons[len(reasons) - 1 - reasons[::-1].index(summary)]
        reasons.append(block)
    elif not _in_force(facts, channel):
        reasons.append(CONSENT_EXPIRED)
    if channel is Channel.IVR and facts.rpo_registered:
        reasons.append(RPO_REGISTERED)
    seconds, opening = calling_window(
        now.astimezone(UTC), facts.timezone, quiet_preset, facts.local_days
    )
    if opening is not None:
        reasons.append(OUTSIDE_CALLING_HOURS)
    phone = channel is not Channel.EMAIL
    # An ordered set: a reason named by two rows of the table is listed once.
    unique = tuple(dict.fromkeys(reasons))
    return Contactability(
        allowed=not unique,
        reasons=unique,
        seconds_in_window=seconds if phone else None,
        next_allowed_at=opening,
    )
