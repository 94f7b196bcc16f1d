"""Who may be asked, about what, on which channel: the one eligibility rule set.

Asking for consent is itself marketing (Flybe, Honda; Cassazione 9920/2022):
a person is asked only about purposes they did not refuse or withdraw, and
only on a channel that is lawful for *them*:

* a channel-bound purpose among the wave's purposes (``marketing_sms`` ->
  SMS) for which they once gave a **provable** consent, even if it is stale
  or lapsed (Codice privacy art. 130(1)-(2): a recorded call or an SMS needs
  the person's prior consent to that kind of contact); or
* a basis the wave declares and the law allows on that channel: only
  :attr:`DeclaredBasis.SOFT_SPAM`, only by e-mail, only to a person with
  evidence of being a customer (art. 130(4)).

:func:`evaluate` is the rule, over plain data. Planning runs the same rule as
one SQL statement over a million contacts (``reconsent.planning.classification``);
``tests/integration/test_eligibility_cases.py`` runs every case of
:data:`CASES` through both and requires the same answer. The send-time gate
(``reconsent.eligibility.send_gate``) and link renewals call :func:`evaluate`
itself.

The reasons, in the order they are tried (the first that applies wins):

==========================  ====================================================
reason                      when
==========================  ====================================================
``erased``                  the identity was erased (or an erasure suppression)
``restricted``              processing is restricted (art. 18)
``objected``                an every-channel objection, opt-out or spam report
``suppressed``              any other every-channel suppression
``withdrawn`` / ``refused`` every purpose of the wave was withdrawn / refused
``consent_fresh``           every purpose still askable is fresh
``missing_not_included``    no record at all, and the wave does not ask those
``no_lawful_basis``         no step's channel is lawful for the person
``suppressed``              ...or every lawful channel is suppressed
``no_address``              ...or has no address
``frequency_cap``           asked too often by other waves recently
``eligible``                asked, about :attr:`Verdict.ask`, on the open channels
==========================  ====================================================

Planning then treats the contacts sharing an e-mail or a phone as one person
(:mod:`reconsent.kernel.rules.same_person`): one of them is asked, the others
are ``duplicate_person``, and a "no" of any of them holds for all.

Per channel (:attr:`Verdict.blocks`): ``no_address``, ``suppressed:<reason>``,
``no_channel_consent`` (no provable consent bound to that channel and no
declared basis), ``not_customer`` (soft spam declared, no customer evidence),
or None when the channel may be used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconsent.kernel.vocab import (
    Channel,
    ConsentState,
    DeclaredBasis,
    Exclusion,
    RequestBasis,
    SuppressionReason,
)

__all__ = [
    "BASIS_BLOCKS",
    "BASIS_CHANNELS",
    "ELIGIBLE",
    "OBJECTION_REASONS",
    "PRIOR_STATES",
    "RPO_PREFIX",
    "SOFT_SPAM_EXCLUDED_CATEGORIES",
    "Freshness",
    "PersonFacts",
    "PurposeFacts",
    "Verdict",
    "WaveRules",
    "all_blocked_reason",
    "channel_blocks",
    "consent_is_fresh",
    "declared_basis_problem",
    "evaluate",
    "every_reason",
    "person_wide",
]

ELIGIBLE = "eligible"

#: Every-channel suppressions that mean "this person said no to marketing".
OBJECTION_REASONS = frozenset(
    {
        SuppressionReason.OBJECTION,
        SuppressionReason.STOP,
        SuppressionReason.UNSUBSCRIBE,
        SuppressionReason.SPAM_REPORT,
    }
)
#: States that show the person once consented (a lapsed consent still counts as prior).
PRIOR_STATES = frozenset({ConsentState.GIVEN, ConsentState.EXPIRED})
#: Channel-block words that are about the basis, not the address.
BASIS_BLOCKS = frozenset({"no_channel_consent", "not_customer", "rpo_not_consulted"})
#: The prefix of the numbers Italy's Registro Pubblico delle Opposizioni covers.
RPO_PREFIX = "+39"


#: Where each declared basis is lawful at all (Codice privacy art. 130).
BASIS_CHANNELS: Mapping[DeclaredBasis, frozenset[Channel]] = {
    DeclaredBasis.SOFT_SPAM: frozenset({Channel.EMAIL}),
}


def declared_basis_problem(channel: str, basis: str) -> str | None:
    """Why ``basis`` may not be declared for ``channel`` (None: it may)."""
    try:
        kind = Channel(channel)
    except ValueError:
        return f"lawful_basis: unknown channel {channel!r}"
    if kind is not Channel.EMAIL:
        what = "an SMS" if kind is Channel.SMS else "a recorded call"
        return (
            f"lawful_basis.{kind.value}: no basis can be declared for {kind.value}: asking "
            f"for consent by {what} is itself marketing and needs the person's prior "
            "consent to that channel (Codice privacy art. 130(1)-(2)); remove it"
        )
    try:
        declared = DeclaredBasis(basis.strip())
    except ValueError:
        return (
            f"lawful_basis.email: {basis[:80]!r} is not a declared basis; the only one is "
            "'soft_spam' (own customers, similar products, art. 130(4) Codice privacy); "
            "explain it in lawful_basis_note"
        )
    if kind not in BASIS_CHANNELS[declared]:
        return f"lawful_basis.{kind.value}: {declared.value} is not lawful on {kind.value}"
    return None


#: Purpose categories a soft-spam declaration can never cover (art. 130(4): the
#: controller's own similar products only).
SOFT_SPAM_EXCLUDED_CATEGORIES = frozenset({"profiling", "sharing"})


@dataclass(frozen=True)
class PurposeFacts:
    """One of the wave's purposes, as the person's consent history stands."""

    code: str
    channel: Channel | None  # the channel the purpose is bound to, if any
    state: ConsentState | None = None  # the latest state; None: no record
    provable: bool = False  # the latest event carries evidence
    fresh: bool = False  # see :func:`consent_is_fresh`

    @property
    def prior_provable(self) -> bool:
        """A provable consent, possibly stale or lapsed: it opens the purpose's channel."""
        return self.state in PRIOR_STATES and self.provable


@dataclass(frozen=True)
class Freshness:
    """When a given consent no longer needs asking again (the wave's ``stale`` section)."""

    notice_version: str  # the wave's notice
    stale_after: timedelta
    old_notice_versions: tuple[str, ...] = ()  # ("*",): any version but the wave's
    unprovable_is_stale: bool = True


def consent_is_fresh(
    rule: Freshness,
    *,
    state: ConsentState | None,
    occurred_at: datetime | None,
    expires_at: datetime | None,
    notice_version: str | None,
    provable: bool,
    now: datetime,
) -> bool:
    """Given, recent, unexpired, under an accepted notice (and provable, if required)."""
    if state is not ConsentState.GIVEN or occurred_at is None:
        return False
    if occurred_at < now - rule.stale_after:
        return False
    if expires_at is not None and expires_at <= now:
        return False
    if "*" in rule.old_notice_versions:
        if notice_version != rule.notice_version:
            return False
    elif notice_version is not None and notice_version in rule.old_notice_versions:
        return False
    return provable or not rule.unprovable_is_stale


@dataclass(frozen=True)
class PersonFacts:
    """Everything the rule needs to know about one person, read at one moment."""

    purposes: tuple[PurposeFacts, ...]
    addresses: frozenset[Channel]  # channels with an address on file
    erased: bool = False
    restricted: bool = False
    #: The every-channel suppression (by contact or by one of their address hashes).
    every_suppression: SuppressionReason | None = None
    #: Per-channel suppressions (by contact, or by the address that channel uses).
    channel_suppressions: Mapping[Channel, SuppressionReason] = field(default_factory=dict)
    #: Any consent record at all, of any purpose (the wave's or not).
    any_record: bool = False
    customer: bool = False  # evidence of a sale: the soft-spam condition
    asked_recently: int = 0  # requests of other waves that reached them in the cap window
    #: Their number is an Italian one: calls need a recent consultation of the RPO.
    rpo_covered: bool = False


@dataclass(frozen=True)
class WaveRules:
    """What the wave asks, on which channels, and what it declares."""

    channels: tuple[Channel, ...]  # the steps' channels, in order
    declared: Mapping[Channel, DeclaredBasis] = field(default_factory=dict)
    include_missing: bool = True
    frequency_cap: int | None = None  # max requests in the cap window; None: no cap
    #: At send time freshness, the frequency cap and missing records were settled by
    #: planning; only what can change (objections, suppressions, refusals) is re-judged.
    at_send_time: bool = False
    #: The person asked for this very message (a fresh link, IVR key 3's SMS): it needs
    #: an address and no suppression, but no marketing basis.
    requested: bool = False
    #: The RPO was consulted within its validity (15 days): a call to an Italian number
    #: is refused (``rpo_not_consulted``) when it was not, or never.
    rpo_consulted: bool = True


@dataclass(frozen=True)
class Verdict:
    reason: str  # ELIGIBLE or an :class:`Exclusion` value
    basis: RequestBasis
    ask: tuple[str, ...]  # the purposes to ask about (in the wave's order)
    blocks: Mapping[Channel, str | None]  # per step channel: why it cannot be used

    @property
    def eligible(self) -> bool:
        return self.reason == ELIGIBLE

    @property
    def open_channels(self) -> tuple[Channel, ...]:
        return tuple(c for c, why in self.blocks.items() if why is None)


def _prior_channels(person: PersonFacts) -> frozenset[Channel]:
    return frozenset(
        p.channel for p in person.purposes if p.channel is not None and p.prior_provable
    )


def channel_blocks(person: PersonFacts, rules: WaveRules) -> dict[Channel, str | None]:
    """Per step channel, why it cannot reach this person (None: it can)."""
    prior = _prior_channels(person)
    blocks: dict[Channel, str | None] = {}
    for channel in dict.fromkeys(rules.channels):
        why: str | None = None
        if channel not in person.addresses:
            why = "no_address"
        elif channel in person.channel_suppressions:
            why = f"suppressed:{person.channel_suppressions[channel].value}"
        elif channel is Channel.IVR and person.rpo_covered and not rules.rpo_consulted:
            why = "rpo_not_consulted"
        elif channel not in prior and not rules.requested:
            declared = rules.declared.get(channel)
            if declared is None or channel not in BASIS_CHANNELS[declared]:
                why = "no_channel_consent"
            elif declared is DeclaredBasis.SOFT_SPAM and not person.customer:
                why = "not_customer"
        blocks[channel] = why
    return blocks


_PERSON_WIDE = frozenset(
    {
        Exclusion.ERASED.value,
        Exclusion.RESTRICTED.value,
        Exclusion.OBJECTED.value,
        Exclusion.SUPPRESSED.value,
        Exclusion.WITHDRAWN.value,
        Exclusion.REFUSED.value,
    }
)


def person_wide() -> frozenset[str]:
    """Reasons that bar the person whatever the channel (the send gate cancels on them);
    the others are per channel (a blocked step is skipped)."""
    return _PERSON_WIDE


def all_blocked_reason(blocks: Mapping[Channel, str | None]) -> str:
    """The wave's summary when no step's channel can reach the person."""
    words = list(blocks.values())
    if any(w in BASIS_BLOCKS for w in words):
        return Exclusion.NO_LAWFUL_BASIS.value
    if any(w is not None and w.startswith("suppressed:") for w in words):
        return Exclusion.SUPPRESSED.value
    return Exclusion.NO_ADDRESS.value


def _findings(
    person: PersonFacts, rules: WaveRules, blocks: Mapping[Channel, str | None]
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every reason of the module's table that applies, in the table's order, with the
    purposes the wave would ask at that point: :func:`evaluate` keeps the first,
    :func:`every_reason` all of them."""
    every = person.every_suppression
    if person.erased or every is SuppressionReason.ERASURE:
        yield Exclusion.ERASED.value, ()
    if person.restricted:
        yield Exclusion.RESTRICTED.value, ()
    if every in OBJECTION_REASONS:
        yield Exclusion.OBJECTED.value, ()
    elif every is not None and every is not SuppressionReason.ERASURE:
        yield Exclusion.SUPPRESSED.value, ()
    said_no = {
        p.code: p.state
        for p in person.purposes
        if p.state in (ConsentState.REFUSED, ConsentState.WITHDRAWN)
    }
    open_ = [p for p in person.purposes if p.code not in said_no]
    if not open_:
        withdrawn = ConsentState.WITHDRAWN in said_no.values()
        yield (Exclusion.WITHDRAWN if withdrawn else Exclusion.REFUSED).value, ()
    ask = tuple(p.code for p in open_ if rules.at_send_time or not p.fresh)
    if open_ and not ask:
        yield Exclusion.FRESH.value, ()
    if not rules.at_send_time and not person.any_record and not rules.include_missing:
        yield Exclusion.MISSING_NOT_INCLUDED.value, ask
    if all(why is not None for why in blocks.values()):
        yield all_blocked_reason(blocks), ask
    if (
        not rules.at_send_time
        and rules.frequency_cap is not None
        and person.asked_recently >= rules.frequency_cap
    ):
        yield Exclusion.FREQUENCY_CAP.value, ask
    yield ELIGIBLE, ask


def evaluate(person: PersonFacts, rules: WaveRules) -> Verdict:
    """The verdict for one person and one wave (see the module's table)."""
    prior = any(p.state in PRIOR_STATES for p in person.purposes)
    basis = RequestBasis.PRIOR_CONSENT if prior else RequestBasis.DECLARED
    blocks = channel_blocks(person, rules)
    reason, ask = next(_findings(person, rules, blocks))
    return Verdict(reason, basis, ask, blocks)


def every_reason(person: PersonFacts, rules: WaveRules) -> tuple[str, ...]:
    """Every reason of the module's table that applies, in its order (empty: eligible);
    the first is :func:`evaluate`'s. Callers that must tell a person *all* that stands
    in the way (the contact centre's contactability check) read this."""
    blocks = channel_blocks(person, rules)
    return tuple(reason for reason, _ in _findings(person, rules, blocks) if reason != ELIGIBLE)
