"""The retention rule: who is due for minimisation, given states, dates and the policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconsent.kernel.rules.identifying_evidence import IDENTIFYING_KEYS, split
from reconsent.kernel.rules.retention_policy import (
    Keep,
    Minimise,
    PersonFacts,
    PurposeFacts,
    Verdict,
    add_months,
    decide,
    keep_groups_whole,
)
from reconsent.kernel.vocab import ConsentState

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
POLICY = {"refused": 0, "withdrawn": 3, "expired": 6}
MONTHS = 12
GIVEN, REFUSED, WITHDRAWN = ConsentState.GIVEN, ConsentState.REFUSED, ConsentState.WITHDRAWN


def at(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


def purpose(
    state: ConsentState,
    occurred: datetime,
    expires: datetime | None = None,
    retention: dict[str, int] | None = POLICY,
) -> PurposeFacts:
    return PurposeFacts(state, occurred, expires, retention)


def person(*purposes: PurposeFacts, **facts: object) -> PersonFacts:
    values: dict[str, object] = {"last_request_at": None, "imported_at": at(2024, 1)}
    values.update(facts)
    return PersonFacts(purposes=purposes, **values)  # type: ignore[arg-type]


def verdict(p: PersonFacts) -> Verdict:
    return decide(p, unanswered_months=MONTHS, now=NOW)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(at(2026, 8, 31), 6) == at(2027, 2, 28)
    assert add_months(at(2027, 8, 31), 6) == at(2028, 2, 29)
    assert add_months(at(2026, 12, 2), 0) == at(2026, 12, 2)
    assert add_months(at(2026, 11, 15), 14) == at(2028, 1, 15)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # A refusal kept 0 months: due at once; a withdrawal kept 3 months.
        (person(purpose(REFUSED, at(2026, 11, 30))), Minimise.REFUSED),
        (person(purpose(WITHDRAWN, at(2026, 8, 1))), Minimise.WITHDRAWN),
        (person(purpose(WITHDRAWN, at(2026, 10, 1))), Keep.WITHIN_RETENTION),
        # A given consent past its expiry is expired at its expiry, kept 6 months.
        (person(purpose(GIVEN, at(2023, 1), expires=at(2026, 5, 1))), Minimise.EXPIRED),
        (person(purpose(GIVEN, at(2024, 1), expires=at(2026, 7, 1))), Keep.WITHIN_RETENTION),
        (person(purpose(ConsentState.EXPIRED, at(2026, 1, 1))), Minimise.EXPIRED),
        # An RPO invalidation is a withdrawal.
        (person(purpose(ConsentState.INVALIDATED, at(2026, 1, 1))), Minimise.WITHDRAWN),
        # Never asked: N months after the import; asked and silent: after the request.
        (person(imported_at=at(2025, 11, 1)), Minimise.NEVER_ANSWERED),
        (person(imported_at=at(2026, 1, 1)), Keep.RECENTLY_CONTACTED),
        (
            person(purpose(ConsentState.REQUESTED, at(2025, 1)), last_request_at=at(2025, 1)),
            Minimise.NEVER_ANSWERED,
        ),
        (
            person(purpose(ConsentState.REQUESTED, at(2025, 1)), last_request_at=at(2026, 6)),
            Keep.RECENTLY_CONTACTED,
        ),
        (person(last_request_at=at(2026, 3, 1)), Keep.RECENTLY_CONTACTED),
        # The catalog states no retention for the purpose: no rule, no deletion.
        (person(purpose(REFUSED, at(2020, 1), retention=None)), Keep.NO_RETENTION_STATED),
    ],
)
def test_one_purpose(facts: PersonFacts, expected: Minimise | Keep) -> None:
    result = verdict(facts)
    assert (result.minimise or result.keep) == expected
    assert result.due == isinstance(expected, Minimise)


def test_a_consent_in_force_keeps_the_person_whatever_else() -> None:
    facts = person(
        purpose(REFUSED, at(2020, 1)),
        purpose(GIVEN, at(2026, 1), expires=at(2028, 1)),
        purpose(WITHDRAWN, at(2020, 1)),
    )
    assert verdict(facts) == Verdict(None, Keep.CONSENT_IN_FORCE)
    no_expiry = person(purpose(GIVEN, at(2010, 1)), purpose(REFUSED, at(2020, 1)))
    assert verdict(no_expiry).keep is Keep.CONSENT_IN_FORCE


def test_every_purpose_must_have_lapsed_and_the_last_to_lapse_names_the_reason() -> None:
    lapsed = person(purpose(REFUSED, at(2026, 1)), purpose(WITHDRAWN, at(2026, 8, 15)))
    assert verdict(lapsed).minimise is Minimise.WITHDRAWN  # 15 Nov, after the refusal
    one_left = person(purpose(REFUSED, at(2020, 1)), purpose(WITHDRAWN, at(2026, 11, 1)))
    assert verdict(one_left).keep is Keep.WITHIN_RETENTION
    unstated = person(purpose(REFUSED, at(2020, 1)), purpose(REFUSED, at(2020, 1), retention=None))
    assert verdict(unstated).keep is Keep.NO_RETENTION_STATED


def test_a_restriction_or_an_open_rights_request_keeps_the_person() -> None:
    due = purpose(REFUSED, at(2020, 1))
    assert verdict(person(due, restricted=True)).keep is Keep.RESTRICTED
    assert verdict(person(due, open_rights_request=True)).keep is Keep.OPEN_RIGHTS_REQUEST


def test_a_group_sharing_an_address_is_minimised_whole_or_not_at_all() -> None:
    due, kept = Verdict(Minimise.REFUSED, None), Verdict(None, Keep.CONSENT_IN_FORCE)
    verdicts = {1: due, 2: kept, 3: due, 4: due, 5: due}
    out = keep_groups_whole(verdicts, [(1, 2, 3), (4, 5)])
    assert out[1] == out[3] == Verdict(None, Keep.SAME_PERSON_KEPT)
    assert out[2] == kept and out[4] == out[5] == due
    assert verdicts[1] == due  # the input is left as it was


def test_identifying_evidence_is_split_from_the_rest() -> None:
    evidence = {
        "token_id": "abc",
        "ip": "203.0.113.9",
        "user_agent": "Firefox",
        "call_sid": "CA1",
        "answered_by": None,
        "to_hash": None,
        "digits": "1",
    }
    clear, identifying = split(evidence)
    assert identifying == {"ip": "203.0.113.9", "user_agent": "Firefox", "call_sid": "CA1"}
    assert clear == {"token_id": "abc", "answered_by": None, "to_hash": None, "digits": "1"}
    assert {"ip", "user_agent", "call_id", "recording_ref", "from_hash"} <= IDENTIFYING_KEYS
