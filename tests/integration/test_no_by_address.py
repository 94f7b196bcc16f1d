"""Must hold: a person who said no, in any way, and is re-imported under a new CRM id is
not asked again by the next wave (the "no" is kept by address, as a keyed hash)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import Contact, Wave
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, CollectionMethod, SuppressionReason
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.decisions import record_decision
from reconsent.ledger.objections import record_channel_optout, record_objection
from reconsent.planning.classification import classify
from tests.support import factories

EMAIL, PHONE = "giulia@example.it", "+393331112223"
Said = Callable[[Session, Contact, int, LedgerContext], None]


def _objection(reason: SuppressionReason) -> Said:
    def said(session: Session, contact: Contact, request_id: int, ctx: LedgerContext) -> None:
        record_objection(
            session,
            request_id=request_id,
            contact_id=contact.id,
            method=CollectionMethod.PORTAL,
            channel=Channel.EMAIL,
            evidence={},
            ctx=ctx,
            reason=reason,
        )

    return said


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


def _stop(channel: Channel, reason: SuppressionReason) -> Said:
    def said(session: Session, contact: Contact, request_id: int, ctx: LedgerContext) -> None:
        record_channel_optout(
            session,
            contact_id=contact.id,
            channel=channel,
            request_id=request_id,
            method=CollectionMethod.SMS,
            evidence={},
            ctx=ctx,
            reason=reason,
        )

    return said


EVERYWHERE = {Channel.EMAIL, Channel.SMS, Channel.IVR}


@pytest.mark.parametrize(
    ("said", "blocked"),
    [
        (_objection(SuppressionReason.OBJECTION), EVERYWHERE),  # the rights centre
        (_objection(SuppressionReason.UNSUBSCRIBE), EVERYWHERE),  # the one-click opt-out
        (_objection(SuppressionReason.SPAM_REPORT), EVERYWHERE),
        (_objection(SuppressionReason.STOP), EVERYWHERE),  # STOPALL
        (_refuse_all, EVERYWHERE),
        (_stop(Channel.SMS, SuppressionReason.STOP), {Channel.SMS}),  # STOP: no more SMS
        (_stop(Channel.IVR, SuppressionReason.OBJECTION), {Channel.IVR}),  # key 9
        (_stop(Channel.EMAIL, SuppressionReason.UNSUBSCRIBE), {Channel.EMAIL}),
    ],
    ids=["objection", "opt-out", "spam", "stopall", "refuse-all", "stop", "key-9", "unsub"],
)
def test_a_no_follows_the_address_to_a_new_crm_id(
    engine: Engine, clock: FixedClock, said: Said, blocked: set[Channel]
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        old = factories.add_contact(s, now, "CRM-1", email=EMAIL, phone=PHONE)
        factories.consent_to_channels(s, now, old, purposes, now - timedelta(days=800))
        first = factories.add_wave(s, now, name="first")
        request = factories.add_request(s, now, first, old)
        ctx = LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=now)
        said(s, old, request.id, ctx)
    clock.advance(timedelta(days=40))
    later = clock.now()
    with unit_of_work(engine) as s:
        # The same person, re-imported from another CRM: a new id, no history, a customer.
        new = factories.add_contact(
            s, later, "HUBSPOT-77", email=EMAIL, phone=PHONE, customer_since=date(2024, 3, 1)
        )
        wave = factories.add_wave(s, later, name="next wave")
        classified = classify(s, s.get_one(Wave, wave.id), later)
        row = s.execute(select(classified).where(classified.c.contact_id == new.id)).one()
    stopped = {c for c in Channel if (row._mapping[f"block_{c.value}"] or "").startswith("supp")}
    assert stopped == blocked
    if blocked == EVERYWHERE:
        assert row.reason == "suppressed"  # never asked again, under any id
