"""One person under several CRM ids: which of their contacts a wave asks.

A CRM that imported the same person twice (two ``external_id`` values) holds two
contacts with the same e-mail or the same phone. For a wave they are **one
person**: one request, and the other contacts are listed in the preflight as
``duplicate_person``.

**Who is one person.** Contacts that share an e-mail or a phone (their keyed
address hashes), *transitively*: A and B share an e-mail, B and C a phone, so A,
B and C are one person (:func:`same_person_groups`, a union-find over both
hashes). A pair-wise rule would let A and C both be asked, and the "no" of one
would not reach the other. A contact whose addresses nobody else holds is alone
and untouched.

**What the group decides** (:func:`resolve_group`, given each member's own
verdict from :func:`reconsent.kernel.rules.eligibility.evaluate`); only members
the rule found ``eligible`` change, the others keep their own reason:

1. someone in the group *said no* (erased, restricted, objected, an every-channel
   suppression, refused or withdrew every purpose of the wave): nobody in the
   group is asked; the eligible members take that "no" (the first of those
   reasons in the rule's order), so the preflight counts them where it belongs;
2. someone in the group is held back by the frequency cap: the person was asked
   recently under that id, so the eligible members are ``frequency_cap`` too;
3. someone in the group already holds a request of this wave (an earlier
   planning run): that person is asked already, every other eligible member is
   ``duplicate_person``;
4. otherwise exactly one eligible member is asked, the best by :func:`rank`: a
   provable consent to one of the wave's purposes beats none, then the most
   recent consent, then the lowest contact id (stable from run to run). The
   others are ``duplicate_person``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconsent.kernel.rules.eligibility import ELIGIBLE
from reconsent.kernel.vocab import Exclusion

__all__ = [
    "SAID_NO",
    "Identity",
    "Member",
    "rank",
    "resolve_group",
    "same_person_groups",
]

#: The member reasons that are a person's "no", in the rule's order (the first wins).
SAID_NO: tuple[str, ...] = (
    Exclusion.ERASED.value,
    Exclusion.RESTRICTED.value,
    Exclusion.OBJECTED.value,
    Exclusion.SUPPRESSED.value,  # only from an every-channel suppression, see Member
    Exclusion.WITHDRAWN.value,
    Exclusion.REFUSED.value,
)


@dataclass(frozen=True)
class Identity:
    """A contact's keyed address hashes (None: no such address)."""

    contact_id: int
    email_hash: str | None
    phone_hash: str | None


def same_person_groups(identities: Iterable[Identity]) -> list[tuple[int, ...]]:
    """The groups of two or more contacts sharing an address hash, transitively; each
    group's ids ascending, groups ordered by their lowest id."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    holder: dict[tuple[str, str], int] = {}
    for person in identities:
        parent.setdefault(person.contact_id, person.contact_id)
        for kind, digest in (("email", person.email_hash), ("phone", person.phone_hash)):
            if digest is None:
                continue
            first = holder.setdefault((kind, digest), person.contact_id)
            a, b = root(first), root(person.contact_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


@dataclass(frozen=True)
class Member:
    """One contact of a group, with its own verdict for the wave."""

    contact_id: int
    reason: str  # ELIGIBLE or an Exclusion value, from the eligibility rule
    #: Its ``suppressed`` comes from an every-channel suppression (a "no"), not from
    #: every step's channel being suppressed one by one (a bounce is not a "no").
    every_suppressed: bool = False
    asked: bool = False  # it already holds a request of this wave
    #: Its latest provable consent once given (lapsed included) to one of the wave's
    #: purposes, and its latest such consent, provable or not.
    provable_consent_at: datetime | None = None
    consent_at: datetime | None = None

    @property
    def said_no(self) -> str | None:
        if self.reason == Exclusion.SUPPRESSED.value and not self.every_suppressed:
            return None
        return self.reason if self.reason in SAID_NO else None


def rank(member: Member) -> tuple[bool, float, bool, float, int]:
    """The sort key of the member to ask (smallest first): a provable consent, then the
    most recent consent, then the lowest id."""
    provable, latest = member.provable_consent_at, member.consent_at
    return (
        provable is None,
        -provable.timestamp() if provable else 0.0,
        latest is None,
        -latest.timestamp() if latest else 0.0,
        member.contact_id,
    )


def resolve_group(members: Sequence[Member]) -> dict[int, str]:
    """The new reason of each member whose verdict the group changes (see the module)."""
    eligible = [m for m in members if m.reason == ELIGIBLE]
    if not eligible:
        return {}
    noes = {m.said_no for m in members} - {None}
    if noes:
        first = next(reason for reason in SAID_NO if reason in noes)
        return {m.contact_id: first for m in eligible}
    if any(m.reason == Exclusion.FREQUENCY_CAP.value for m in members):
        return {m.contact_id: Exclusion.FREQUENCY_CAP.value for m in eligible}
    if any(m.asked for m in members):
        keep = {m.contact_id for m in members if m.asked}
    else:
        keep = {min(eligible, key=rank).contact_id}
    duplicate = Exclusion.DUPLICATE_PERSON.value
    return {m.contact_id: duplicate for m in eligible if m.contact_id not in keep}
