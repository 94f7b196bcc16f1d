"""The eligibility rule, case by case (no I/O): the table in eligibility_cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.rules.eligibility import (
    Freshness,
    PersonFacts,
    PurposeFacts,
    WaveRules,
    consent_is_fresh,
    declared_basis_problem,
    evaluate,
)
from reconsent.kernel.rules.eligibility_cases import CASES, REFERENCE_PURPOSES, Case
from reconsent.kernel.vocab import Channel, ConsentState, DeclaredBasis

STEPS = (Channel.EMAIL, Channel.SMS, Channel.IVR)
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def facts_of(case: Case) -> PersonFacts:
    addresses = {Channel.EMAIL} if case.email else set()
    if case.phone:
        addresses |= {Channel.SMS, Channel.IVR}
    purposes = tuple(
        PurposeFacts(
            code,
            channel,
            mark.state if (mark := case.marks.get(code)) else None,
            bool(mark and mark.provable),
            bool(mark and mark.fresh and mark.provable and mark.state is ConsentState.GIVEN),
        )
        for code, channel in REFERENCE_PURPOSES.items()
    )
    return PersonFacts(
        purposes=purposes,
        addresses=frozenset(addresses),
        erased=case.erased,
        restricted=case.restricted,
        every_suppression=case.every,
        channel_suppressions=dict(case.channel_suppressions),
        any_record=bool(case.marks) or case.other_record,
        customer=case.customer,
    )


def rules_of(case: Case) -> WaveRules:
    declared = {Channel.EMAIL: DeclaredBasis.SOFT_SPAM} if case.soft_spam else {}
    return WaveRules(channels=STEPS, declared=declared, include_missing=case.include_missing)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_gets_its_verdict(case: Case) -> None:
    verdict = evaluate(facts_of(case), rules_of(case))
    assert (verdict.reason, verdict.basis.value) == (case.reason, case.basis)
    assert dict(verdict.blocks) == case.blocks


def test_the_table_covers_every_reason_the_rule_has() -> None:
    reasons = {c.reason for c in CASES}
    assert reasons >= {
        "eligible", "consent_fresh", "refused", "withdrawn", "objected", "erased",
        "restricted", "suppressed", "no_address", "no_lawful_basis", "missing_not_included",
    }  # fmt: skip


def test_at_send_time_only_what_can_change_is_judged_again() -> None:
    fresh = next(c for c in CASES if c.name == "fresh everywhere")
    rules = WaveRules(channels=STEPS, declared={}, at_send_time=True)
    assert evaluate(facts_of(fresh), rules).reason == "eligible"  # planning settled freshness


def test_a_requested_message_needs_no_marketing_basis_but_respects_a_no() -> None:
    nobody = next(c for c in CASES if c.name == "no record, not a customer")
    requested = WaveRules(channels=(Channel.SMS,), at_send_time=True, requested=True)
    assert evaluate(facts_of(nobody), requested).blocks == {Channel.SMS: None}
    stopped = next(c for c in CASES if c.name.startswith("STOP on SMS"))
    assert evaluate(facts_of(stopped), requested).blocks == {Channel.SMS: "suppressed:stop"}


def test_freshness_follows_age_expiry_notice_and_proof() -> None:
    rule = Freshness("2026-09", timedelta(days=365), ("2024-01",), unprovable_is_stale=True)

    def fresh(**kw: object) -> bool:
        values: dict[str, object] = {
            "state": ConsentState.GIVEN,
            "occurred_at": NOW - timedelta(days=30),
            "expires_at": None,
            "notice_version": "2026-09",
            "provable": True,
        }
        values.update(kw)
        return consent_is_fresh(rule, now=NOW, **values)  # type: ignore[arg-type]  # kw typed by key

    assert fresh()
    assert not fresh(occurred_at=NOW - timedelta(days=400))
    assert not fresh(expires_at=NOW - timedelta(seconds=1))
    assert not fresh(notice_version="2024-01")
    assert not fresh(provable=False)
    assert not fresh(state=ConsentState.REFUSED)
    star = Freshness("2026-09", timedelta(days=365), ("*",))
    assert not consent_is_fresh(
        star,
        state=ConsentState.GIVEN,
        occurred_at=NOW,
        expires_at=None,
        notice_version=None,
        provable=True,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("channel", "basis", "problem"),
    [
        ("email", "soft_spam", None),
        ("sms", "soft_spam", "no basis can be declared for sms"),
        ("ivr", "legitimate interest", "no basis can be declared for ivr"),
        ("email", "legitimate interest", "is not a declared basis"),
        ("fax", "soft_spam", "unknown channel"),
    ],
)
def test_declared_bases_are_a_closed_vocabulary(
    channel: str, basis: str, problem: str | None
) -> None:
    found = declared_basis_problem(channel, basis)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_the_prefect_launch_form_refuses_a_basis_for_sms_or_calls() -> None:
    """The launcher flow's parameter is the WaveConfig: Prefect validates the form with it,
    so the same one line comes back to the person filling the form."""
    from pydantic import ValidationError

    from reconsent.kernel.waveconfig import WaveConfig

    form = {
        "name": "x",
        "purposes": ["marketing_phone"],
        "notice_version": "2026-09",
        "steps": [{"channel": "ivr", "wait": "1d"}],
        "lawful_basis": {"ivr": "legitimate interest"},
    }
    with pytest.raises(ValidationError) as info:
        WaveConfig.model_validate(form)
    [error] = info.value.errors()
    assert "no basis can be declared for ivr" in error["msg"]
    assert "Codice privacy art. 130(1)-(2)" in error["msg"]
