"""What a wave did, for people and for the CRM: the report (per step, channel,
locale, purpose, day, with rates), the outcome file and the audience export, from a
real tick and real decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from models import Contact, SendAttempt, WaveRequest
from reconsent.campaigns.wave_outcomes import outcome_lines, outcome_rows
from reconsent.campaigns.wave_report import render_csv, render_markdown, wave_report
from reconsent.campaigns.waves import get_wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, CollectionMethod
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.decisions import record_decision
from reconsent.planning.audience import audience_rows
from tests.support import factories

pytestmark = pytest.mark.prefect
PURPOSES = ["marketing_email", "marketing_sms", "marketing_phone"]


def _answered_wave(engine: Engine, clock: FixedClock) -> int:
    from flows.wave_tick import wave_tick

    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        for n in range(4):
            c = factories.add_contact(s, now, f"p{n}", locale="en" if n == 3 else "it")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=900))
        factories.add_contact(s, now, "never-consented", phone=None)  # not asked: no basis
        wave_id = factories.add_wave(s, now).id
    wave_tick(wave_id, now)
    ctx = LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now + timedelta(hours=2))
    with unit_of_work(engine) as s:
        ids = dict(
            s.execute(
                select(Contact.external_id, WaveRequest.id).join(
                    WaveRequest, WaveRequest.contact_id == Contact.id
                )
            ).all()
        )
        s.execute(  # p0's e-mail was delivered (the provider said so)
            update(SendAttempt)
            .where(SendAttempt.request_id == ids["p0"])
            .values(delivery_status="delivered")
        )
        answers = {"p0": dict.fromkeys(PURPOSES, True), "p1": dict.fromkeys(PURPOSES, False)}
        answers["p3"] = {"marketing_email": True, "marketing_sms": False}
        for person, choices in answers.items():
            record_decision(
                s,
                request_id=ids[person],
                choices=choices,
                method=CollectionMethod.PORTAL,
                channel=Channel.EMAIL,
                evidence={},
                nonce=None,
                ctx=ctx,
            )
    return wave_id


def test_the_report_counts_each_step_channel_locale_purpose_and_day(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    wave_id = _answered_wave(engine, clock)
    with unit_of_work(engine) as s:
        report = wave_report(s, get_wave(s, wave_id))
    assert report["asked"] == 4
    assert report["steps"] == [
        {
            "step": 1, "channel": "email", "locale": "en", "sent": 1, "delivered": 0,
            "answered": 1, "confirmed": 1, "refused": 0,
            "delivered_rate": 0.0, "answer_rate": 1.0, "confirm_rate": 1.0,
        },
        {
            "step": 1, "channel": "email", "locale": "it", "sent": 3, "delivered": 1,
            "answered": 2, "confirmed": 1, "refused": 1,
            "delivered_rate": 0.333, "answer_rate": 0.667, "confirm_rate": 0.5,
        },
    ]  # fmt: skip
    assert report["totals"]["sent"] == 4 and report["totals"]["answer_rate"] == 0.75
    by_purpose = {p["purpose"]: p for p in report["purposes"]}
    assert by_purpose["marketing_email"] == {
        # p1 had consented once: their "no" now is a withdrawal
        "purpose": "marketing_email", "asked": 4, "given": 2, "refused": 0, "withdrawn": 1,
        "given_rate": 0.5,
    }  # fmt: skip
    phone = by_purpose["marketing_phone"]
    assert phone["given"] == 1 and phone["refused"] + phone["withdrawn"] == 1
    assert report["days"] == [{"day": "2026-12-01", "sent": 4, "answers": 3}]
    markdown = render_markdown(report)
    assert "| step | channel | locale | sent | delivered |" in markdown
    assert "| 1 | email | it | 3 | 1 | 2 | 1 | 1 | 33.3% | 66.7% | 50.0% |" in markdown
    assert "{" not in markdown  # tables, never Python dicts
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [(r["locale"], r["sent"]) for r in rows] == [("en", "1"), ("it", "3")]
    assert "@" not in json.dumps(report)  # counts only


def test_the_outcome_file_has_one_row_per_person_and_purpose_by_crm_id(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    wave_id = _answered_wave(engine, clock)
    with unit_of_work(engine) as s:
        lines = list(outcome_lines(outcome_rows(s, get_wave(s, wave_id)), "csv"))
        jsonl = [
            json.loads(x) for x in outcome_lines(outcome_rows(s, get_wave(s, wave_id)), "jsonl")
        ]
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    assert len(rows) == 4 * 3 == len(jsonl)
    got = {(r["external_id"], r["purpose"]): r["answer"] for r in rows}
    assert got[("p0", "marketing_sms")] == "given" and got[("p1", "marketing_email")] == "withdrawn"
    assert got[("p3", "marketing_phone")] == "none" and got[("p2", "marketing_email")] == "none"
    p0 = next(r for r in rows if r["external_id"] == "p0")
    assert p0["channel"] == "email" and p0["request_status"] == "confirmed"
    assert p0["answered_at"].startswith("2026-12-01T12:00")
    assert not any("@" in line for line in lines)  # no address, no name


def test_the_audience_export_gives_ids_and_reasons_and_details_only_when_asked(
    flow_env: Path, engine: Engine, clock: FixedClock
) -> None:
    wave_id = _answered_wave(engine, clock)
    with unit_of_work(engine) as s:
        rows = list(audience_rows(s, get_wave(s, wave_id), clock.now()))
        detailed = list(audience_rows(s, get_wave(s, wave_id), clock.now(), with_contacts=True))
    reasons = {r["external_id"]: r["reason"] for r in rows}
    assert reasons["never-consented"] != "eligible" and reasons["p2"] == "eligible"
    assert all("email" not in r for r in rows)
    assert {r["email"] for r in detailed} >= {factories.own_email("p2")}
