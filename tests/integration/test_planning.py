"""Planning: who is asked, why the others are not, and only once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from models import Contact, Suppression, Wave, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import (
    Channel,
    ConsentState,
    RequestBasis,
    SuppressionReason,
    WaveStatus,
)
from reconsent.planning.planner import plan_wave, preflight
from tests.support import factories


def _seed(engine: Engine, clock: FixedClock) -> dict[str, int]:
    """One person per reason of the eligibility rule (the wave asks about e-mail, SMS and
    phone marketing, by e-mail -> SMS -> recorded call, with soft spam on e-mail)."""
    now = clock.now()
    ids: dict[str, int] = {}
    everything = ("marketing_email", "marketing_sms", "marketing_phone")
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)

        def person(name: str, **kw: Any) -> Contact:
            kw.setdefault("email", f"{name}@example.com")
            c = factories.add_contact(s, now, name, **kw)
            ids[name] = c.id
            return c

        def mark(
            c: Contact,
            codes: tuple[str, ...],
            days: int,
            state: ConsentState = ConsentState.GIVEN,
            **kw: Any,
        ) -> None:
            for code in codes:
                factories.record(s, now, c, p[code], state, now - timedelta(days=days), **kw)

        mark(person("fresh"), everything, 30)
        mark(person("stale"), everything, 800)
        mark(person("old_notice"), everything, 10, notice_version="2024-01")
        # Unprovable consents are stale, but open no channel: nothing can reach them.
        mark(person("unprovable"), everything, 10, provable=False)
        # A customer without any record: only e-mail, under the soft-spam declaration.
        person("missing", customer_since=date(2025, 3, 1))
        # No e-mail and not a customer: SMS and calls need a consent they never gave.
        person("missing_no_email", email=None)
        # The person whose e-mail consent is stale, and who has a phone: e-mail only.
        mark(person("only_email"), ("marketing_email",), 800)
        # A refusal of SMS bars asking about SMS, not renewing the e-mail consent.
        refused_one = person("refused_one")
        mark(refused_one, ("marketing_email",), 800)
        mark(refused_one, ("marketing_sms",), 5, ConsentState.REFUSED)
        mark(person("refused"), everything, 5, ConsentState.REFUSED)
        withdrawn = person("withdrawn")
        mark(withdrawn, everything, 900)
        mark(withdrawn, everything, 3, ConsentState.WITHDRAWN)
        objected = person("objected")
        mark(objected, everything, 900)
        s.add(
            Suppression(
                contact_id=objected.id,
                channel=None,
                reason=SuppressionReason.OBJECTION,
                source="portal",
                created_at=now,
            )
        )
        erased = person("erased")
        erased.erased_at = now
        mark(erased, everything, 900)
        # Suppressed by address hash only (e.g. erased earlier under another id).
        by_hash = person("by_hash")
        mark(by_hash, everything, 900)
        s.add(
            Suppression(
                address_hash=by_hash.email_hash,
                channel=None,
                reason=SuppressionReason.ERASURE,
                source="erasure",
                created_at=now,
            )
        )
        mark(person("no_address", email=None, phone=None), everything, 900)
        ids["wave"] = factories.add_wave(s, now).id
    return ids


def test_preflight_explains_every_exclusion(engine: Engine, clock: FixedClock) -> None:
    ids = _seed(engine, clock)
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, ids["wave"])
        report = preflight(s, wave, clock.now())
    assert report.excluded == {
        "consent_fresh": 1,
        "refused": 1,
        "withdrawn": 1,
        "objected": 1,  # an art. 21 objection on every channel
        "erased": 2,  # erased here, and erased earlier under another id (address hash)
        # unprovable consents open no channel; SMS and calls need a consent
        "no_lawful_basis": 2,
        "no_address": 1,
    }
    assert report.eligible == {"prior_consent": 4, "declared": 1}
    assert report.reachable == {"email": 5, "sms": 2, "ivr": 2}
    # Only the people who once consented to SMS / phone marketing are texted or called.
    assert report.channel_skips == {
        "sms": {"no_channel_consent": 3},
        "ivr": {"no_channel_consent": 3},
    }
    assert report.eligible_total + sum(report.excluded.values()) == 14


def test_channel_suppressions_skip_only_that_channel(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        people = []
        phones = {
            "bounced": "+393331234561",
            "stopped": "+393331234562",
            "rpo": "+393331234563",
            "fine": None,
        }
        for name in ("bounced", "stopped", "rpo", "fine"):
            c = factories.add_contact(
                s,
                now,
                name,
                email=f"{name}@example.com",
                phone=phones[name],
            )
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=800))
            people.append(c)
        for contact, channel, reason in (
            (people[0], Channel.EMAIL, SuppressionReason.BOUNCE),
            (people[1], Channel.SMS, SuppressionReason.STOP),
            (people[2], Channel.IVR, SuppressionReason.RPO),
        ):
            digest = contact.email_hash if channel is Channel.EMAIL else contact.phone_hash
            s.add(
                Suppression(
                    address_hash=digest,
                    channel=channel,
                    reason=reason,
                    source="test",
                    created_at=now,
                )
            )
        wave = factories.add_wave(s, now)
        s.flush()
        report = preflight(s, wave, now)
    assert report.excluded == {}
    assert report.eligible == {"prior_consent": 4}
    assert report.channel_skips == {
        "email": {"suppressed:bounce": 1},
        "sms": {"suppressed:stop": 1, "no_address": 1},
        "ivr": {"suppressed:rpo": 1, "no_address": 1},
    }
    assert report.reachable == {"email": 3, "sms": 2, "ivr": 2}


def test_frequency_cap_across_waves(engine: Engine, clock: FixedClock) -> None:
    from models import SendAttempt
    from reconsent.kernel.vocab import AttemptStatus

    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        asked = factories.add_contact(s, now, "asked")
        other = factories.add_contact(s, now, "other", email="other@example.com")
        for c in (asked, other):
            factories.record(
                s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=800)
            )
        earlier = factories.add_wave(s, now)
        request = factories.add_request(s, now, earlier, asked)
        s.add(
            SendAttempt(
                request_id=request.id,
                step_index=0,
                channel=Channel.EMAIL,
                status=AttemptStatus.SENT,
                tries=1,
                claimed_at=now - timedelta(days=10),
                sent_at=now - timedelta(days=10),
            )
        )
        capped = factories.add_wave(s, now, frequency_cap={"max_requests": 1, "days": 30})
        uncapped = factories.add_wave(s, now)
        s.flush()
        assert preflight(s, capped, now).excluded == {"frequency_cap": 1}
        assert preflight(s, uncapped, now).excluded == {}
        later = now + timedelta(days=31)
        assert preflight(s, capped, later).excluded == {}


def test_planning_creates_requests_once(engine: Engine, clock: FixedClock) -> None:
    ids = _seed(engine, clock)
    from models import Wave

    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, ids["wave"])
        first = plan_wave(s, wave, clock.now())
        assert first.created == 5 and wave.status is WaveStatus.RUNNING
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, ids["wave"])
        wave.status = WaveStatus.DRAFT  # force a second planning pass: still nobody twice
        assert plan_wave(s, wave, clock.now()).created == 0
        rows = s.execute(select(WaveRequest.contact_id, WaveRequest.basis)).all()
    asked = {cid: basis for cid, basis in rows}
    expected = {"stale", "old_notice", "missing", "only_email", "refused_one"}
    assert set(asked) == {ids[name] for name in expected}
    assert asked[ids["missing"]] is RequestBasis.DECLARED


def test_dry_run_plans_and_creates_nothing(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        c = factories.add_contact(s, now, "a")
        factories.record(
            s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=800)
        )
        wave = factories.add_wave(s, now, dry_run=True)
        report = plan_wave(s, wave, now)
        assert report.eligible_total == 1 and report.created == 0
        assert wave.status is WaveStatus.PLANNED and wave.plan_summary is not None
        assert s.scalar(select(func.count()).select_from(WaveRequest)) == 0
