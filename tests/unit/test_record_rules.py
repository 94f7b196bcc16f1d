"""The record of processing and the DPIA draft as pure functions over data: what the
record states, the WP248 criteria computed from facts, and the rendering (escaped HTML,
valid JSON, both locales)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from reconsent.kernel.rules.transfers import TransferMechanism, is_third_country, transfer_problem
from reconsent.records.catalog_rows import contact_rules
from reconsent.records.dpia import CRITERIA, assess_criteria, build_dpia
from reconsent.records.record_inputs import (
    CatalogProcessor,
    CatalogPurpose,
    CatalogSnapshot,
    ContactRules,
    Party,
    ProductFacts,
    SecurityFacts,
)
from reconsent.records.record_of_processing import build_record
from reconsent.records.record_render import render_dpia, render_record

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
EMAIL = CatalogPurpose(
    code="marketing_email",
    category="marketing",
    channel="email",
    lawful_basis="consent",
    lifetime_months=24,
    titles={"it": "Offerte via email", "en": "Offers by email"},
    descriptions={"it": "Offerte.", "en": "Offers."},
    data_categories=("contact details: e-mail address",),
    recipients=("SendGrid (processor)",),
    retention={"refused": 0, "withdrawn": 0, "expired": 6},
    processors=("sendgrid",),
    data_subjects=("customers",),
)
PROFILING = CatalogPurpose(
    code="profiling",
    category="profiling",
    channel=None,
    lawful_basis="consent",
    lifetime_months=12,
    titles={"en": "Profiling"},
    descriptions={"en": "Interests."},
    data_categories=("purchase history",),
    processors=("hosting",),
)
SENDGRID = CatalogProcessor(
    code="sendgrid",
    name="Twilio Inc. (SendGrid)",
    service="e-mail delivery",
    country="US",
    dpa_reference="DPA-1",
    dpa_date=date(2026, 1, 15),
    transfer_mechanism=TransferMechanism.EU_US_DPF,
    safeguards=("SCCs as a fallback",),
    adapter="sendgrid",
)
HOSTING = CatalogProcessor(
    code="hosting",
    name="Example Cloud S.p.A.",
    service="hosting",
    country="IT",
    dpa_reference="HOST-1",
    transfer_mechanism=TransferMechanism.NONE,
)
SECURITY = SecurityFacts(
    database="postgresql",
    least_privilege_roles=True,
    checkpoint_signing=True,
    daily_checkpoints=True,
    receipt_signing=False,
    portal_https=True,
    portal_rate_per_ip=300,
    portal_rate_per_token=60,
    evidence_ip_truncate=True,
    sendgrid_events_verified=True,
    api_frequency_cap=None,
    api_calling_hours={"ivr": "it-telemarketing", "sms": "daytime"},
    rpo_validity_days=15,
)
FACTS = ProductFacts(
    controller=Party("Example S.r.l.", "privacy@example.com"),
    jurisdiction="IT",
    dpo=Party("Maria Rossi", "dpo@example.com"),
    representative=None,
    providers={"email": "sendgrid", "sms": "outbox", "ivr": "twilio"},
    security=SECURITY,
    large_scale_contacts=1000,
    generated_at=NOW,
)
SNAPSHOT = CatalogSnapshot(
    purposes=(EMAIL, PROFILING),
    processors=(SENDGRID, HOSTING),
    contacts=999,
    suppressions=42,
    rules=ContactRules(channels=("email", "ivr"), waves=1, link_days=(14,)),
)


def test_transfers_need_a_mechanism_outside_the_eea_and_none_inside() -> None:
    assert not is_third_country("IT") and not is_third_country("no") and is_third_country("US")
    assert transfer_problem("US", TransferMechanism.EU_US_DPF) is None
    assert transfer_problem("IT", TransferMechanism.NONE) is None
    assert transfer_problem("GB", TransferMechanism.ADEQUACY) is None
    assert "outside the EEA" in str(transfer_problem("US", TransferMechanism.NONE))
    assert "only the United States" in str(transfer_problem("CA", TransferMechanism.EU_US_DPF))
    assert "in the EEA" in str(transfer_problem("DE", TransferMechanism.SCCS))


def test_the_record_states_purposes_processors_transfers_and_channels() -> None:
    record = build_record(SNAPSHOT, FACTS, "en")

    assert [p.code for p in record.purposes] == ["marketing_email", "profiling"]
    email = record.purposes[0]
    assert email.processors == ("Twilio Inc. (SendGrid)",)
    assert email.data_subjects == ("customers",) and email.retention == EMAIL.retention
    assert email.lawful_basis_text == "consent (art. 6(1)(a))"
    assert [(p.code, p.purposes, p.third_country) for p in record.processors] == [
        ("sendgrid", ("marketing_email",), True),
        ("hosting", ("profiling",), False),
    ]
    assert record.processors[0].in_use is True and record.processors[1].in_use is None
    assert [(t.processor, t.mechanism) for t in record.transfers] == [
        ("Twilio Inc. (SendGrid)", "eu_us_dpf")
    ]
    channels = {c.channel: (c.provider, c.processor, c.used_by_waves) for c in record.channels}
    assert channels == {
        "email": ("sendgrid", "Twilio Inc. (SendGrid)", True),
        "ivr": ("twilio", None, True),
        "sms": ("outbox", None, False),
    }
    assert record.dpo == Party("Maria Rossi", "dpo@example.com")
    assert record.generated_at == "2026-12-01T10:00:00+00:00"


def test_gaps_name_what_the_catalog_and_settings_do_not_say() -> None:
    record = build_record(SNAPSHOT, replace(FACTS, dpo=None), "en")

    gaps = "\n".join(record.gaps)
    assert "No DPO is set" in gaps
    assert "Purpose profiling: no retention" in gaps
    assert "Purpose profiling: no categories of data subjects" in gaps
    assert "Processor Example Cloud S.p.A.: the date" in gaps
    assert "The ivr channel goes to twilio, which the catalog does not list" in gaps
    assert "marketing_email" not in gaps
    assert "Organisational measures" in gaps


def test_security_measures_follow_the_configuration() -> None:
    configured = {m.code: m.text for m in build_record(SNAPSHOT, FACTS, "en").security_measures}
    assert "one per day" in configured["checkpoints"]
    assert "42 suppressions in force" in configured["suppression"]
    assert "after 14 days" in configured["links"]
    assert "owns nothing" in configured["database"]
    assert "only the network" in configured["evidence"]
    assert "per client address (300/min) and per link (60/min)" in configured["portal"]
    assert {"twilio", "sendgrid", "https"} <= set(configured) and "receipts" not in configured

    bare = replace(
        FACTS,
        providers={"email": "outbox", "sms": "outbox", "ivr": "outbox"},
        security=replace(
            SECURITY, database="sqlite", checkpoint_signing=False, portal_https=False,
            evidence_ip_truncate=False, receipt_signing=True, portal_rate_per_ip=0,
        ),
    )  # fmt: skip
    plain = {m.code: m.text for m in build_record(SNAPSHOT, bare, "en").security_measures}
    assert "not configured" in plain["checkpoints"] and "SQLite" in plain["database"]
    assert "not https" in plain["https"] and "keeps the client address" in plain["evidence"]
    assert "twilio" not in plain and "sendgrid" not in plain and "receipts" in plain
    assert "per client address (no limit)" in plain["portal"]


def test_contact_rules_aggregate_the_wave_configs() -> None:
    wave = {
        "steps": [{"channel": "email", "wait": "3d"}, {"channel": "ivr", "wait": "1d"}],
        "quiet_hours": {"email": "always", "sms": "daytime", "ivr": "it-telemarketing"},
        "frequency_cap": {"max_requests": 1, "days": 90},
        "link_lifetime": "14d",
        "lawful_basis": {"email": "soft_spam"},
    }
    other = {"steps": [{"channel": "sms", "wait": "2d"}], "quiet_hours": {"sms": "always"}}

    rules = contact_rules([wave, other])

    assert rules.channels == ("email", "ivr", "sms") and rules.waves == 2
    assert rules.quiet_hours == {
        "email": ("always",), "ivr": ("it-telemarketing",), "sms": ("always",)
    }  # fmt: skip
    assert rules.frequency_caps == ((1, 90),) and rules.link_days == (14,)
    assert rules.soft_spam_waves == 1
    assert contact_rules([]) == ContactRules()


def _met(snapshot: CatalogSnapshot, threshold: int = 1000) -> dict[str, bool | None]:
    return {f.code: f.met for f in assess_criteria(snapshot, threshold)}


def test_dpia_criteria_are_computed_from_the_facts() -> None:
    met = _met(SNAPSHOT)
    assert list(met) == list(CRITERIA)
    assert met == {
        "evaluation_scoring": True,  # a profiling purpose
        "automated_decisions": False,
        "systematic_monitoring": True,  # a wave contacts the base
        "sensitive_data": False,
        "large_scale": False,  # 999 people, threshold 1000
        "matching_datasets": None,
        "vulnerable_subjects": None,
        "innovative_technology": True,  # a wave places automated calls
        "prevents_rights": False,
    }
    assert _met(replace(SNAPSHOT, contacts=1000))["large_scale"] is True
    assert _met(SNAPSHOT, threshold=999)["large_scale"] is True

    quiet = replace(
        SNAPSHOT,
        purposes=(replace(EMAIL, sensitive=True, children=True),),
        rules=ContactRules(channels=("email",), waves=0),
    )
    met = _met(quiet)
    assert (met["sensitive_data"], met["vulnerable_subjects"]) == (True, True)
    assert (met["evaluation_scoring"], met["systematic_monitoring"]) == (False, False)
    assert met["innovative_technology"] is False


def test_two_criteria_make_a_dpia_likely_required() -> None:
    dpia = build_dpia(SNAPSHOT, FACTS, "en")
    assert dpia.criteria_met == 3 and dpia.likely_required
    only_one = replace(SNAPSHOT, purposes=(EMAIL,), rules=ContactRules(channels=(), waves=1))
    single = build_dpia(only_one, FACTS, "en")
    assert single.criteria_met == 1 and not single.likely_required
    reasons = {c.code: c.reason for c in dpia.criteria}
    assert reasons["large_scale"].startswith("999 people in the base, below the threshold of 1000")


def test_dpia_risks_state_the_configured_measures() -> None:
    rules = ContactRules(
        channels=("ivr",),
        quiet_hours={"ivr": ("it-telemarketing",)},
        frequency_caps=((2, 30),),
        waves=1,
    )
    snapshot = replace(SNAPSHOT, rules=rules, rpo_last_consulted=NOW)
    risks = {r.code: r.measures for r in build_dpia(snapshot, FACTS, "en").risks}
    intrusion = " ".join(risks["intrusion"])
    assert "ivr: weekdays 09:00-20:00, Saturdays 10:00-19:00" in intrusion
    assert "at most 2 in 30 days" in intrusion
    assert "at most 15 days old; the last one imported: 2026-12-01" in intrusion
    assert any("42 suppressions in force" in m for m in risks["unwanted_contact"])
    assert risks["transfers"][0].startswith("Twilio Inc. (SendGrid) (US): EU-US Data Privacy")
    assert risks["retention"][0].startswith("marketing_email: after a refusal: at once")
    assert "not stated" in risks["retention"][1]


HOSTILE = '<script>alert("x")</script>'


@pytest.mark.parametrize("kind", ["record", "dpia"])
def test_html_escapes_what_the_catalog_says(kind: str) -> None:
    hostile = replace(
        SNAPSHOT,
        purposes=(replace(EMAIL, titles={"en": HOSTILE}, data_subjects=(HOSTILE,)),),
        processors=(replace(SENDGRID, name=HOSTILE), HOSTING),
    )
    html = (
        render_record(build_record(hostile, FACTS, "en"), "html")
        if kind == "record"
        else render_dpia(build_dpia(hostile, FACTS, "en"), "html")
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.startswith("<!doctype html>") and '<html lang="en">' in html


@pytest.mark.parametrize(("locale", "heading", "dpia_heading"), [
    ("it", "Registro delle attività di trattamento", "protezione dei dati (art. 35"),
    ("en", "Record of processing activities", "Data protection impact assessment"),
])  # fmt: skip
def test_both_locales_render_every_format(locale: str, heading: str, dpia_heading: str) -> None:
    record = build_record(SNAPSHOT, FACTS, locale)
    dpia = build_dpia(SNAPSHOT, FACTS, locale)
    for text in (render_record(record, "md"), render_record(record, "html")):
        assert heading in text and "marketing_email" in text and "Twilio Inc. (SendGrid)" in text
        assert not re.search(r"\{[a-z_]+\}", text), "a placeholder left unfilled"
    for text in (render_dpia(dpia, "md"), render_dpia(dpia, "html")):
        assert dpia_heading in text and "Offer" in text  # the processing, from the record
        assert not re.search(r"\{[a-z_]+\}", text), "a placeholder left unfilled"
        assert ("DA COMPLETARE" if locale == "it" else "TO COMPLETE") in text
    assert render_record(record, "md").startswith(f"# {heading}")


def test_json_is_the_whole_record_and_valid() -> None:
    record = build_record(SNAPSHOT, FACTS, "it")
    data = json.loads(render_record(record, "json"))
    assert data == json.loads(json.dumps(dataclasses.asdict(record)))
    assert [p["code"] for p in data["processors"]] == ["sendgrid", "hosting"]
    assert data["purposes"][0]["retention"] == {"refused": 0, "withdrawn": 0, "expired": 6}
    assert data["purposes"][0]["title"] == "Offerte via email"
    dpia = json.loads(render_dpia(build_dpia(SNAPSHOT, FACTS, "en"), "json"))
    assert [c["code"] for c in dpia["criteria"]] == list(CRITERIA)
    assert dpia["record"]["transfers"][0]["country"] == "US"
