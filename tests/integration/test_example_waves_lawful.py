"""Must hold: the example waves, run on the demo's sample base, place no SMS and no call to
a person without a provable consent bound to that channel, and e-mail people with no
consent record only under a valid soft-spam declaration, to customers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, and_, exists, select

from models import ConsentEvent, Contact, Purpose, SendAttempt, WaveRequest
from reconsent.campaigns.catalog_file import load_catalog
from reconsent.campaigns.waves import create_wave
from reconsent.db import unit_of_work
from reconsent.dev.sample import write_rpo_answer, write_sample
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.imports import import_consents, import_contacts
from reconsent.imports.rpo_answers import import_rpo
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import AttemptStatus, Channel, ConsentState, RequestBasis
from reconsent.kernel.waveconfig import load_wave_config
from reconsent.planning.planner import plan_wave
from reconsent.settings import Settings
from tests.support.fakes import adapters

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("wave_file", ["demo-wave.toml", "wave.toml"])
def test_every_sms_and_call_has_a_consent_to_its_channel(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path, wave_file: str
) -> None:
    now = clock.now()
    files = write_sample(tmp_path / "sample", 400, seed=7, now=now)
    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, now)
    import_contacts(engine, files.contacts_csv, settings, now)
    import_consents(engine, files.consents_csv, settings, now)
    answer = write_rpo_answer(files.contacts_csv, tmp_path / "sample", now, share=0.2)
    rpo = import_rpo(
        engine, answer, settings, consulted_at=now - timedelta(days=2), source="t", now=now
    )
    assert rpo.created > 0
    with unit_of_work(engine) as session:
        wave = create_wave(session, load_wave_config(EXAMPLES / wave_file), now)
        report = plan_wave(session, wave, now)
        wave_id = wave.id
    assert report.channel_skips["sms"]["no_channel_consent"] > 0  # the rule did exclude some
    fakes = adapters()
    dispatcher = Dispatcher(engine, settings, fakes)
    for _ in range(8):  # every step and its wait, on weekdays inside the calling hours
        for lo, hi in dispatcher.due_ranges(wave_id, clock.now(), 1000):
            dispatcher.advance(wave_id, lo, hi, clock.now())
        clock.advance(timedelta(days=1))
    assert fakes[Channel.SMS].sent and fakes[Channel.IVR].sent

    consent_to_channel = exists().where(
        ConsentEvent.contact_id == WaveRequest.contact_id,
        ConsentEvent.purpose_id == Purpose.id,
        Purpose.channel == SendAttempt.channel,
        ConsentEvent.state == ConsentState.GIVEN,
        ConsentEvent.provable.is_(True),
        ConsentEvent.occurred_at <= SendAttempt.claimed_at,
    )
    with unit_of_work(engine) as session:
        went_out = and_(
            SendAttempt.request_id == WaveRequest.id,
            SendAttempt.status.in_([AttemptStatus.SENT, AttemptStatus.UNKNOWN]),
        )
        unlawful = session.scalars(
            select(SendAttempt.id).where(
                went_out,
                SendAttempt.channel.in_([Channel.SMS, Channel.IVR]),
                ~consent_to_channel,
            )
        ).all()
        assert unlawful == []
        revoked_then_called = session.scalars(
            select(SendAttempt.id)
            .join(WaveRequest, went_out)
            .join(ConsentEvent, ConsentEvent.contact_id == WaveRequest.contact_id)
            .where(
                SendAttempt.channel == Channel.IVR,
                ConsentEvent.state == ConsentState.INVALIDATED,
            )
        ).all()
        assert revoked_then_called == []  # an RPO registration revoked their call consent
        soft_spam = session.execute(
            select(Contact.customer_since)
            .join(WaveRequest, WaveRequest.contact_id == Contact.id)
            .join(SendAttempt, went_out)
            .where(
                WaveRequest.basis == RequestBasis.DECLARED,
                SendAttempt.channel == Channel.EMAIL,
            )
        ).all()
    assert soft_spam, "the declared basis was exercised"
    assert all(customer_since is not None for (customer_since,) in soft_spam)
    declared_texts = [
        m for m in fakes[Channel.EMAIL].sent if m.context.basis is RequestBasis.DECLARED
    ]
    assert len(declared_texts) == len(soft_spam)  # worded as a new request, not a renewal
