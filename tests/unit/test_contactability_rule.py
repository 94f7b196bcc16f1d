"""Every reason, and the contact centre's reading of the rule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.rules.contactability import (
    ContactFacts,
    calling_window,
    judge_contact,
    rpo_revokes,
    state_in_force,
)
from reconsent.kernel.rules.eligibility import (
    ELIGIBLE,
    PersonFacts,
    PurposeFacts,
    WaveRules,
    evaluate,
    every_reason,
)
from reconsent.kernel.rules.eligibility_cases import CASES, Case
from reconsent.kernel.vocab import Channel, ConsentState, SuppressionReason
from tests.unit.test_eligibility_rule import facts_of, rules_of

pytestmark = pytest.mark.unit

#: Tuesday 1 December 2026, 19:59 in Rome (CET, UTC+1): the Italian code closes at 20:00.
AT_1959 = datetime(2026, 12, 1, 18, 59, tzinfo=UTC)
IVR_ONLY = WaveRules(channels=(Channel.IVR,), frequency_cap=2)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_first_of_every_reason_is_the_verdict(case: Case) -> None:
    facts, rules = facts_of(case), rules_of(case)
    reasons = every_reason(facts, rules)
    assert (reasons[0] if reasons else ELIGIBLE) == evaluate(facts, rules).reason


def test_every_reason_names_all_that_apply_in_the_table_order() -> None:
    person = PersonFacts(
        purposes=(PurposeFacts("marketing_phone", Channel.IVR, ConsentState.WITHDRAWN, True),),
        addresses=frozenset(),
        erased=True,
        restricted=True,
        every_suppression=SuppressionReason.OBJECTION,
        any_record=True,
        asked_recently=5,
    )
    assert every_reason(person, IVR_ONLY) == (
        "erased", "restricted", "objected", "withdrawn", "no_address", "frequency_cap",
    )  # fmt: skip


def _phone(state: ConsentState | None = ConsentState.GIVEN, **person: object) -> ContactFacts:
    purposes = (PurposeFacts("marketing_phone", Channel.IVR, state, state is not None),)
    facts = PersonFacts(
        purposes=purposes,
        addresses=frozenset({Channel.SMS, Channel.IVR}),
        any_record=state is not None,
        rpo_covered=True,
        **person,  # type: ignore[arg-type]  # the test's overrides of PersonFacts fields
    )
    return ContactFacts(person=facts, timezone="Europe/Rome")


def test_an_allowed_number_a_minute_before_closing_has_a_minute_left() -> None:
    answer = judge_contact(
        _phone(), Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="it-telemarketing"
    )
    assert (answer.allowed, answer.reasons) == (True, ())
    assert answer.seconds_in_window == 60
    assert answer.next_allowed_at is None
    # 20:59 in Rome under 08:00-21:00 hours (the us-tcpa preset): a minute left too.
    late = judge_contact(
        _phone(), Channel.IVR, IVR_ONLY, now=AT_1959 + timedelta(hours=1), quiet_preset="us-tcpa"
    )
    assert (late.allowed, late.seconds_in_window) == (True, 60)


def test_after_hours_the_next_opening_is_given_in_utc() -> None:
    at_2001 = AT_1959 + timedelta(minutes=2)  # 20:01 in Rome
    answer = judge_contact(
        _phone(), Channel.IVR, IVR_ONLY, now=at_2001, quiet_preset="it-telemarketing"
    )
    assert answer.reasons == ("outside_calling_hours",)
    assert answer.next_allowed_at == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 Rome
    assert answer.seconds_in_window is None
    assert calling_window(at_2001, "Europe/Rome", "always") == (14_339, None)  # to 23:59:59.999


def test_an_objection_with_a_refusal_and_a_cap_lists_every_reason() -> None:
    facts = _phone(
        ConsentState.WITHDRAWN, every_suppression=SuppressionReason.OBJECTION, asked_recently=3
    )
    answer = judge_contact(facts, Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("objected", "withdrawn", "frequency_cap", "no_channel_consent")


def test_a_channel_suppression_is_named_by_its_own_word() -> None:
    facts = _phone(channel_suppressions={Channel.IVR: SuppressionReason.STOP})
    answer = judge_contact(facts, Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("suppressed:stop",)
    every = _phone(every_suppression=SuppressionReason.MANUAL)
    answer = judge_contact(every, Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("suppressed",)


def test_a_lapsed_consent_opens_a_re_consent_call_but_not_a_marketing_one() -> None:
    facts = _phone(ConsentState.EXPIRED)
    assert evaluate(facts.person, IVR_ONLY).eligible
    answer = judge_contact(facts, Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("consent_expired",)


def test_the_rpo_registration_after_the_consent_and_a_stale_consultation() -> None:
    day = timedelta(days=1)
    assert rpo_revokes(AT_1959 - day, False, AT_1959 - 30 * day)
    assert not rpo_revokes(AT_1959 - day, True, AT_1959 - 30 * day)  # an active contract
    assert not rpo_revokes(AT_1959 - 30 * day, False, AT_1959 - day)  # consented after
    assert not rpo_revokes(None, False, None)
    registered = ContactFacts(person=_phone().person, timezone="Europe/Rome", rpo_registered=True)
    answer = judge_contact(registered, Channel.IVR, IVR_ONLY, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("rpo_registered",)
    stale = WaveRules(channels=(Channel.IVR,), rpo_consulted=False)
    answer = judge_contact(_phone(), Channel.IVR, stale, now=AT_1959, quiet_preset="always")
    assert answer.reasons == ("rpo_not_consulted",)


def test_a_given_consent_past_its_expiry_reads_as_lapsed() -> None:
    given = ConsentState.GIVEN
    assert state_in_force(given, AT_1959, AT_1959) is ConsentState.EXPIRED
    assert state_in_force(given, AT_1959 + timedelta(seconds=1), AT_1959) is given
    assert state_in_force(ConsentState.REFUSED, AT_1959, AT_1959) is ConsentState.REFUSED


def test_email_has_no_calling_window_in_seconds() -> None:
    person = PersonFacts(
        purposes=(PurposeFacts("marketing_email", Channel.EMAIL, ConsentState.GIVEN, True),),
        addresses=frozenset({Channel.EMAIL}),
        any_record=True,
    )
    facts = ContactFacts(person=person, timezone="Europe/Rome")
    rules = WaveRules(channels=(Channel.EMAIL,))
    answer = judge_contact(facts, Channel.EMAIL, rules, now=AT_1959, quiet_preset="always")
    assert (answer.allowed, answer.seconds_in_window) == (True, None)
