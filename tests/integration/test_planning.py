"""Planning: who is asked, why the others are not, and only once."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict, Unpack

from sqlalchemy import Engine, func, select

from models import Contact, Suppression, WaveRequest
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


class _Addresses(TypedDict, total=False):
    """What a seeded person may override: a missing address is ``None``."""

    email: str | None
    phone: str | None


def _seed(engine: Engine, clock: FixedClock) -> dict[str, int]:
    now = clock.now()
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        email, sms = p["marketing_email"], p["marketing_sms"]

        def person(name: str, **kw: Unpack[_Addresses]) -> Contact:
            kw.setdefault("email", f"{name}@example.com")
            c = factories.add_contact(s, now, name, **kw)
            ids[name] = c.id
            return c

        fresh = person("fresh")
        for purpose in (email, sms):
            factories.record(s, now, fresh, purpose, ConsentState.GIVEN, now - timedelta(days=30))
        stale = person("stale")
        factories.record(s, now, stale, email, ConsentState.GIVEN, now - timedelta(days=800))
        old_notice = person("old_notice")
        for purpose in (email, sms):
            factories.record(
                s,
                now,
                old_notice,
                purpose,
                ConsentState.GIVEN,
                now - timedelta(days=10),
                notice_version="2024-01",
            )
        unprovable = person("unprovable")
        for purpose in (email, sms):
            factories.record(
                s,
                now,
                unprovable,
                purpose,
                ConsentState.GIVEN,
                now - timedelta(days=10),
                provable=False,
            )
        person("missing")  # no record: reachable only by email (declared basis)
        person("missing_no_email", email=None)
        refused = person("refused")
        factories.record(
            s, now, refused, p["profiling"], ConsentState.REFUSED, now - timedelta(days=5)
        )
        withdrawn = person("withdrawn")
        factories.record(s, now, withdrawn, email, ConsentState.GIVEN, now - timedelta(days=900))
        factories.record(s, now, withdrawn, email, ConsentState.WITHDRAWN, now - timedelta(days=3))
        objected = person("objected")
        factories.record(s, now, objected, email, ConsentState.GIVEN, now - timedelta(days=900))
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
        factories.record(s, now, erased, email, ConsentState.GIVEN, now - timedelta(days=900))
        by_hash = person(
            "by_hash"
        )  # suppressed by address hash only (e.g. erased earlier under another id)
        factories.record(s, now, by_hash, email, ConsentState.GIVEN, now - timedelta(days=900))
        s.add(
            Suppression(
                address_hash=by_hash.email_hash,
                channel=None,
                reason=SuppressionReason.ERASURE,
                source="erasure",
                created_at=now,
            )
        )
        no_address = person("no_address", email=None, phone=None)
        factories.record(s, now, no_address, email, ConsentState.GIVEN, now - timedelta(days=900))
        ids["wave"] = factories.add_wave(s, now).id
    return ids


def test_preflight_explains_every_exclusion(engine: Engine, clock: FixedClock) -> None:
    ids = _seed(engine, clock)
    with unit_of_work(engine) as s:
        wave = s.get_one(__import__("models").Wave, ids["wave"])
        report = preflight(s, wave, clock.now())
    assert report.excluded == {
        "consent_fresh": 1,
        "refused": 1,
        "withdrawn": 1,
        "objected": 1,  # an art. 21 objection on every channel
        "erased": 2,  # erased here, and erased earlier under another id (address hash)
        # the one with no address at all, and the "missing" one without e-mail
        # (e-mail is the only channel with a declared basis)
        "no_address": 2,
    }
    assert report.eligible == {"prior_consent": 3, "declared": 1}
    assert report.reachable == {"email": 4, "sms": 3, "ivr": 3}
    # The "missing" contact has a phone, but only e-mail has a declared basis.
    assert report.channel_skips == {"sms": {"no_lawful_basis": 1}, "ivr": {"no_lawful_basis": 1}}
    assert report.eligible_total + sum(report.excluded.values()) == 12


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
            factories.record(
                s, now, c, p["marketing_email"], ConsentState.GIVEN, now - timedelta(days=800)
            )
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
        assert first.created == 4 and wave.status is WaveStatus.RUNNING
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, ids["wave"])
        wave.status = WaveStatus.DRAFT  # force a second planning pass: still nobody twice
        assert plan_wave(s, wave, clock.now()).created == 0
        rows = s.execute(select(WaveRequest.contact_id, WaveRequest.basis)).all()
    asked = {cid: basis for cid, basis in rows}
    assert set(asked) == {ids["stale"], ids["old_notice"], ids["unprovable"], ids["missing"]}
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
