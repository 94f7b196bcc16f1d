"""Must hold: contacts sharing an address are one person for a wave: one request, the
others listed in the preflight as ``duplicate_person``; a "no" under one id keeps
every id of that person from being asked (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import Contact, Suppression, Wave, WaveRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, CollectionMethod, SuppressionReason, WaveStatus
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.decisions import record_decision
from reconsent.ledger.objections import record_channel_optout, record_objection
from reconsent.planning.classification import classify
from reconsent.planning.planner import Preflight, plan_wave, preflight
from tests.support import factories

SHARED_EMAIL, SHARED_PHONE = "giulia.rossi@example.it", "+393331112223"
YEAR = timedelta(days=365)


def _requests(session: Session, wave: Wave) -> set[int]:
    return set(
        session.scalars(select(WaveRequest.contact_id).where(WaveRequest.wave_id == wave.id))
    )


def _plan(engine: Engine, clock: FixedClock, wave_id: int) -> tuple[Preflight, Preflight, set[int]]:
    """The preflight before planning, the plan's own report, and who the wave asks."""
    with unit_of_work(engine) as s:
        wave = s.get_one(Wave, wave_id)
        before = preflight(s, wave, clock.now())
        report = plan_wave(s, wave, clock.now())
        return before, report, _requests(s, wave)


def test_two_ids_with_one_email_get_one_request(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        # The same person twice: a customer with no record (soft spam), and the same
        # address under another CRM id with a provable (stale) e-mail consent.
        crm = factories.add_contact(
            s, now, "CRM-1", email=SHARED_EMAIL, phone=None, customer_since=date(2024, 5, 1)
        )
        hub = factories.add_contact(s, now, "HUB-7", email=SHARED_EMAIL, phone=None)
        factories.consent_to_channels(s, now, hub, p, now - 2 * YEAR, (Channel.EMAIL,))
        other = factories.add_contact(s, now, "CRM-2", email="other@example.it", phone=None)
        factories.consent_to_channels(s, now, other, p, now - 2 * YEAR, (Channel.EMAIL,))
        wave_id = factories.add_wave(s, now).id
        ids = {c.external_id: c.id for c in (crm, hub, other)}
    before, report, asked = _plan(engine, clock, wave_id)
    # The provable consent beats the customer record, though CRM-1 has the lower id.
    assert asked == {ids["HUB-7"], ids["CRM-2"]}
    assert report.created == 2
    for counted in (before, report):
        assert counted.excluded == {"duplicate_person": 1}
        assert counted.eligible == {"prior_consent": 2}
        assert counted.reachable == {"email": 2}


def test_two_ids_with_one_phone_get_one_sms(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        people = {}
        for name, phone, consented in (
            ("CRM-1", SHARED_PHONE, now - 3 * YEAR),
            ("HUB-7", SHARED_PHONE, now - 2 * YEAR),  # the more recent consent
            ("CRM-2", "+393339998887", now - 3 * YEAR),
        ):
            c = factories.add_contact(s, now, name, email=f"{name.lower()}@example.it", phone=phone)
            factories.consent_to_channels(s, now, c, p, consented, (Channel.SMS,))
            people[name] = c.id
        sms_only: dict[str, Any] = {"steps": [{"channel": "sms", "wait": "2d"}]}
        wave_id = factories.add_wave(s, now, lawful_basis={}, **sms_only).id
    before, report, asked = _plan(engine, clock, wave_id)
    assert asked == {people["HUB-7"], people["CRM-2"]}
    assert before.excluded == report.excluded == {"duplicate_person": 1}
    assert report.reachable == {"sms": 2}


def test_a_chain_of_shared_addresses_is_one_person(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        ids = []
        for name, email, phone in (
            ("A", SHARED_EMAIL, "+393330000001"),
            ("B", SHARED_EMAIL, SHARED_PHONE),  # A's e-mail, C's phone
            ("C", "c@example.it", SHARED_PHONE),
        ):
            c = factories.add_contact(s, now, name, email=email, phone=phone)
            factories.consent_to_channels(s, now, c, p, now - 2 * YEAR)
            ids.append(c.id)
        wave_id = factories.add_wave(s, now).id
    _, report, asked = _plan(engine, clock, wave_id)
    assert asked == {ids[0]}  # equal consents: the lowest id
    assert report.excluded == {"duplicate_person": 2}


def test_planning_again_never_asks_another_id_of_an_asked_person(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        first = factories.add_contact(s, now, "CRM-1", email=SHARED_EMAIL)
        factories.consent_to_channels(s, now, first, p, now - 3 * YEAR)
        wave_id = factories.add_wave(s, now).id
    _, report, asked = _plan(engine, clock, wave_id)
    assert asked == {first.id} and report.created == 1
    with unit_of_work(engine) as s:
        # Imported after the first pass, with a better (more recent) consent.
        later = factories.add_contact(s, now, "HUB-7", email=SHARED_EMAIL)
        factories.consent_to_channels(s, now, later, p, now - 2 * YEAR)
        wave = s.get_one(Wave, wave_id)
        wave.status = WaveStatus.DRAFT  # force a second planning pass
    _, again, asked = _plan(engine, clock, wave_id)
    assert again.created == 0
    assert asked == {first.id}
    assert again.excluded == {"duplicate_person": 1}


def _object(session: Session, contact: Contact, request_id: int, ctx: LedgerContext) -> None:
    record_objection(
        session,
        request_id=request_id,
        contact_id=contact.id,
        method=CollectionMethod.PORTAL,
        channel=Channel.EMAIL,
        evidence={},
        ctx=ctx,
    )


def _refuse_all(session: Session, contact: Contact, request_id: int, ctx: LedgerContext) -> None:
    choices = dict.fromkeys(["marketing_email", "marketing_sms", "marketing_phone"], False)
    record_decision(
        session,
        request_id=request_id,
        choices=choices,
        method=CollectionMethod.PORTAL,
        channel=Channel.EMAIL,
        evidence={},
        nonce=None,
        ctx=ctx,
    )


Said = Callable[[Session, Contact, int, LedgerContext], None]


@pytest.mark.parametrize(
    ("said", "reason"),
    [(_object, "objected"), (_refuse_all, "withdrawn")],
    ids=["objection", "refuse-all"],
)
def test_a_no_under_one_id_stops_every_id_of_the_person(
    engine: Engine, clock: FixedClock, said: Said, reason: str
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        crm = factories.add_contact(s, now, "CRM-1", email=SHARED_EMAIL, phone="+393330000001")
        # The same person under another id: the same e-mail, another phone.
        hub = factories.add_contact(s, now, "HUB-7", email=SHARED_EMAIL, phone=SHARED_PHONE)
        for c in (crm, hub):
            factories.consent_to_channels(s, now, c, p, now - 2 * YEAR)
        first = factories.add_wave(s, now, name="first")
        request = factories.add_request(s, now, first, crm)
        said(
            s, crm, request.id, LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now)
        )
        ids = (crm.id, hub.id)
    clock.advance(timedelta(days=40))
    with unit_of_work(engine) as s:
        wave = factories.add_wave(s, clock.now(), name="next wave")
        wave_id = wave.id
        # The address-hash suppressions alone stop the shared e-mail only: judged alone,
        # the other id would still be texted and called on its own number.
        rows = s.execute(select(classify(s, wave, clock.now()))).all()
        alone = {row.contact_id: row for row in rows}
        assert alone[ids[1]].reason == "eligible"
        assert alone[ids[1]].block_email.startswith("suppressed:")
        assert alone[ids[1]].block_sms is None
    before, report, asked = _plan(engine, clock, wave_id)
    assert asked == set()
    assert before.excluded == report.excluded == {reason: 2}


def test_a_stop_stays_a_channel_no_for_the_person(engine: Engine, clock: FixedClock) -> None:
    """STOP on the shared number stops SMS to every id of the person; e-mail goes on,
    to one of them."""
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        crm = factories.add_contact(s, now, "CRM-1", email="crm@example.it", phone=SHARED_PHONE)
        hub = factories.add_contact(s, now, "HUB-7", email="hub@example.it", phone=SHARED_PHONE)
        for c in (crm, hub):
            factories.consent_to_channels(s, now, c, p, now - 2 * YEAR)
        request = factories.add_request(s, now, factories.add_wave(s, now, name="first"), crm)
        record_channel_optout(
            s,
            contact_id=crm.id,
            channel=Channel.SMS,
            request_id=request.id,
            method=CollectionMethod.SMS,
            evidence={},
            ctx=LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now),
            reason=SuppressionReason.STOP,
        )
        wave_id = factories.add_wave(s, now, name="next wave").id
    _, report, asked = _plan(engine, clock, wave_id)
    assert len(asked) == 1
    assert report.excluded == {"duplicate_person": 1}
    assert report.channel_skips == {"sms": {"suppressed:stop": 1}}
    assert report.reachable == {"email": 1, "ivr": 1}


@pytest.mark.parametrize(
    ("channel", "reason", "asked_other"),
    [
        (None, SuppressionReason.MANUAL, False),  # "never contact": a no for the person
        (Channel.EMAIL, SuppressionReason.BOUNCE, True),  # the address failed: not a no
    ],
    ids=["every-channel", "bounce"],
)
def test_only_an_every_channel_suppression_is_the_persons_no(
    engine: Engine,
    clock: FixedClock,
    channel: Channel | None,
    reason: SuppressionReason,
    asked_other: bool,
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        # Suppressed, and by e-mail only: excluded as "suppressed" either way.
        crm = factories.add_contact(s, now, "CRM-1", email=SHARED_EMAIL, phone=None)
        hub = factories.add_contact(s, now, "HUB-7", email=SHARED_EMAIL, phone=SHARED_PHONE)
        for c in (crm, hub):
            factories.consent_to_channels(s, now, c, p, now - 2 * YEAR)
        s.add(
            Suppression(
                contact_id=crm.id, channel=channel, reason=reason, source="test", created_at=now
            )
        )
        wave_id = factories.add_wave(s, now).id
        other = hub.id
    _, report, asked = _plan(engine, clock, wave_id)
    assert asked == ({other} if asked_other else set())
    assert report.excluded == ({"suppressed": 1} if asked_other else {"suppressed": 2})
