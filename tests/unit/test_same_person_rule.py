"""Contacts sharing an address are one person for a wave: the pure rule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.rules.same_person import (
    Identity,
    Member,
    resolve_group,
    same_person_groups,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def test_groups_join_contacts_by_either_address_transitively() -> None:
    groups = same_person_groups(
        [
            Identity(1, "mail-a", "phone-a"),
            Identity(2, "mail-a", "phone-b"),  # 1's e-mail
            Identity(3, None, "phone-b"),  # 2's phone: one person with 1 and 2
            Identity(4, "mail-d", None),  # nobody else's address
            Identity(7, "mail-e", "phone-e"),
            Identity(5, "mail-e", None),
        ]
    )
    assert groups == [(1, 2, 3), (5, 7)]


def test_an_email_hash_never_matches_a_phone_hash() -> None:
    assert same_person_groups([Identity(1, "same", None), Identity(2, None, "same")]) == []


def test_a_long_chain_is_one_group() -> None:
    chain = [Identity(i, f"mail-{i // 2}", f"phone-{(i + 1) // 2}") for i in range(1, 200)]
    assert same_person_groups(reversed(chain)) == [tuple(range(1, 200))]


def member(contact_id: int, reason: str = "eligible", **kw: object) -> Member:
    return Member(contact_id, reason, **kw)  # type: ignore[arg-type]  # kw typed by key


def test_one_eligible_member_is_asked_the_others_are_duplicates() -> None:
    assert resolve_group([member(4), member(9)]) == {9: "duplicate_person"}


def test_a_provable_consent_beats_a_more_recent_unprovable_one() -> None:
    group = [
        member(1, consent_at=NOW),  # unprovable, recent
        member(2, provable_consent_at=NOW - 3 * YEAR, consent_at=NOW - 3 * YEAR),
    ]
    assert resolve_group(group) == {1: "duplicate_person"}


def test_then_the_most_recent_consent_then_the_lowest_id() -> None:
    old, recent = NOW - 3 * YEAR, NOW - YEAR
    group = [
        member(1, provable_consent_at=old, consent_at=old),
        member(2, provable_consent_at=recent, consent_at=recent),
        member(3, provable_consent_at=recent, consent_at=recent),
    ]
    assert resolve_group(group) == {1: "duplicate_person", 3: "duplicate_person"}
    # Neither has a record (soft spam): the lowest id.
    assert resolve_group([member(8), member(6)]) == {8: "duplicate_person"}


def test_members_excluded_for_their_own_reason_keep_it() -> None:
    group = [member(1, "no_lawful_basis"), member(2), member(3, "consent_fresh")]
    assert resolve_group(group) == {}


@pytest.mark.parametrize(
    ("reason", "every_suppressed", "then"),
    [
        ("objected", False, "objected"),
        ("refused", False, "refused"),
        ("withdrawn", False, "withdrawn"),
        ("restricted", False, "restricted"),
        ("erased", False, "erased"),
        ("suppressed", True, "suppressed"),  # an every-channel suppression: a "no"
        ("suppressed", False, None),  # only its channels suppressed (a bounce): not a "no"
    ],
)
def test_a_no_of_any_member_keeps_the_whole_group_from_being_asked(
    reason: str, every_suppressed: bool, then: str | None
) -> None:
    group = [member(1, reason, every_suppressed=every_suppressed), member(2), member(3)]
    expected = {2: then, 3: then} if then else {3: "duplicate_person"}
    assert resolve_group(group) == expected


def test_the_first_no_in_the_rules_order_is_the_groups() -> None:
    group = [member(1, "refused"), member(2, "objected"), member(3)]
    assert resolve_group(group) == {3: "objected"}


def test_a_member_asked_recently_by_another_wave_caps_the_group() -> None:
    assert resolve_group([member(1, "frequency_cap"), member(2)]) == {2: "frequency_cap"}


def test_a_member_this_wave_already_asks_stays_the_one() -> None:
    best = NOW - timedelta(days=400)
    group = [
        member(1, "consent_fresh", asked=True),  # answered the request: fresh now
        member(2, provable_consent_at=best, consent_at=best),
        member(3),
    ]
    assert resolve_group(group) == {2: "duplicate_person", 3: "duplicate_person"}
    # Two requests from before the rule existed: both stay, nobody else is added.
    twice = [member(1, asked=True), member(2, asked=True), member(3)]
    assert resolve_group(twice) == {3: "duplicate_person"}
