"""Dispatching: the gate at send time, escalation, idempotence, crash recovery, pacing
(provider outcomes: ``test_dispatch_outcomes.py``)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from models import ConsentEvent, SendAttempt, Suppression, Wave, WaveRequest
from reconsent.db import unit_of_work
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.ports import OutboundMessage, SendResult
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    RequestStatus,
    SuppressionReason,
)
from reconsent.settings import Settings
from tests.conftest import make_settings
from tests.support import factories
from tests.support.dispatch_waves import tick, wave_with
from tests.support.fakes import RecordingAdapter, adapters


def test_escalates_email_sms_ivr_then_expires_without_consent(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=3)
    fakes = adapters()
    d = Dispatcher(engine, dsettings, fakes)
    tick(d, wave_id, clock)
    tick(d, wave_id, clock)  # a second tick at the same time sends nothing twice
    assert [len(fakes[c].sent) for c in Channel] == [3, 0, 0]
    assert len({m.link for m in fakes[Channel.EMAIL].sent}) == 3
    clock.advance(timedelta(days=3))
    tick(d, wave_id, clock)
    assert [len(fakes[c].sent) for c in Channel] == [3, 3, 0]
    clock.advance(timedelta(days=2))  # Sunday 6 Dec: no calls under the Italian code
    tick(d, wave_id, clock)
    assert [len(fakes[c].sent) for c in Channel] == [3, 3, 0]
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # Monday 10:00 in Rome (pre-holiday hours)
    tick(d, wave_id, clock)
    assert [len(fakes[c].sent) for c in Channel] == [3, 3, 3]
    assert all(
        m.voice_url and "/webhooks/twilio/voice?t=" in m.voice_url for m in fakes[Channel.IVR].sent
    )
    clock.advance(timedelta(days=1))
    tick(d, wave_id, clock)
    with unit_of_work(engine) as s:
        statuses = s.scalars(select(WaveRequest.status)).all()
        given_by_wave = s.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.wave_id == wave_id)
        )
    assert statuses == [RequestStatus.EXPIRED] * 3
    assert given_by_wave == 0  # silence is never consent


def test_objection_mid_wave_stops_the_next_step(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=2)
    fakes = adapters()
    d = Dispatcher(engine, dsettings, fakes)
    tick(d, wave_id, clock)
    with unit_of_work(engine) as s:
        first = s.scalars(select(WaveRequest).order_by(WaveRequest.id)).first()
        assert first is not None
        s.add(
            Suppression(
                contact_id=first.contact_id,
                channel=None,
                reason=SuppressionReason.OBJECTION,
                source="test",
                created_at=clock.now(),
            )
        )
        objector = first.id
    clock.advance(timedelta(days=3))
    tick(d, wave_id, clock)
    assert [m.request_id for m in fakes[Channel.SMS].sent] != [objector]
    assert objector not in {m.request_id for m in fakes[Channel.SMS].sent}
    with unit_of_work(engine) as s:
        req = s.get_one(WaveRequest, objector)
        assert (req.status, req.close_reason) == (RequestStatus.CANCELLED, "objected")


def _claim_only(d: Dispatcher, wave_id: int, clock: FixedClock) -> None:
    from reconsent.dispatch.batch_report import BatchReport

    lo, hi = d.due_ranges(wave_id, clock.now(), 10)[0]
    d._decide_and_claim(wave_id, lo, hi, clock.now(), BatchReport())


def _mark_handed_over(engine: Engine) -> None:
    with unit_of_work(engine) as s:  # handed to the provider, then the process died
        for attempt in s.scalars(select(SendAttempt)):
            attempt.status = AttemptStatus.SENDING


def test_crash_before_the_provider_call_sends_after_the_lease(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=2)
    fakes = adapters()
    d = Dispatcher(engine, dsettings, fakes)
    _claim_only(d, wave_id, clock)  # claimed, then the process "dies" before calling out
    tick(d, wave_id, clock)  # within the lease: nothing happens
    assert fakes[Channel.EMAIL].sent == []
    clock.advance(timedelta(seconds=dsettings.claim_lease_seconds + 1))
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 2  # never handed over: nobody is lost
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 2


def test_crash_during_the_provider_call_never_sends_twice(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=2)
    fakes = adapters()
    d = Dispatcher(engine, dsettings, fakes)
    _claim_only(d, wave_id, clock)
    _mark_handed_over(engine)
    clock.advance(timedelta(seconds=dsettings.claim_lease_seconds + 1))
    tick(d, wave_id, clock)
    assert fakes[Channel.EMAIL].sent == []  # presumed sent: at most once
    with unit_of_work(engine) as s:
        assert set(s.scalars(select(SendAttempt.status))) == {AttemptStatus.UNKNOWN}
    clock.advance(timedelta(days=3))
    tick(d, wave_id, clock)
    assert len(fakes[Channel.SMS].sent) == 2  # nobody lost: they escalate on schedule


def test_a_lost_outcome_is_unknown_until_the_provider_reports_it(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    """Truthful "sent": a crash between hand-over and result is reported as unknown,
    never as sent, until the provider's own report (a SendGrid ``processed`` event
    naming our attempt) proves the message arrived."""
    from reconsent.campaigns.funnel import wave_funnel
    from reconsent.feedback.delivery_reports import DeliveryReport, apply_delivery
    from reconsent.kernel.rules.delivery_outcomes import sendgrid_event_verdict
    from reconsent.ledger.append import LedgerContext

    wave_id = wave_with(engine, clock, n=2)
    d = Dispatcher(engine, dsettings, adapters())
    _claim_only(d, wave_id, clock)
    _mark_handed_over(engine)
    clock.advance(timedelta(seconds=dsettings.claim_lease_seconds + 1))
    tick(d, wave_id, clock)
    with unit_of_work(engine) as s:
        funnel = wave_funnel(s, s.get_one(Wave, wave_id))
        assert (funnel["channels"]["email"]["sent"], funnel["channels"]["email"]["unknown"]) == (
            0,
            2,
        )
        first = s.scalars(select(SendAttempt).order_by(SendAttempt.id)).first()
        assert first is not None
        report = DeliveryReport(
            provider="sendgrid",
            event_key="sendgrid:processed-1",
            channel=Channel.EMAIL,
            verdict=sendgrid_event_verdict("processed"),
            provider_message_id="sg-abc",
            attempt_id=first.id,
        )
        ctx = LedgerContext(controller="C", jurisdiction="IT", now=clock.now())
        apply_delivery(s, report, ctx=ctx, max_tries=3)
    with unit_of_work(engine) as s:
        attempt = s.get_one(SendAttempt, first.id)
        assert (attempt.status, attempt.provider_message_id) == (AttemptStatus.SENT, "sg-abc")
        email = wave_funnel(s, s.get_one(Wave, wave_id))["channels"]["email"]
        assert (email["sent"], email["unknown"]) == (1, 1)


def test_lost_call_is_sent_again_on_an_idempotent_channel(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=2)
    fakes = adapters(email=RecordingAdapter(Channel.EMAIL, idempotent=True))
    d = Dispatcher(engine, dsettings, fakes)
    _claim_only(d, wave_id, clock)
    _mark_handed_over(engine)
    clock.advance(timedelta(seconds=dsettings.claim_lease_seconds + 1))
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 2


def test_configuration_error_fails_the_run_and_loses_nothing(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    from reconsent.kernel.errors import ChannelConfigError

    wave_id = wave_with(engine, clock, n=2)

    def unauthorised(_m: OutboundMessage) -> SendResult:
        raise ChannelConfigError("the provider rejected the API key", provider="fake", status=401)

    broken = adapters(email=RecordingAdapter(Channel.EMAIL, outcome=unauthorised))
    with pytest.raises(ChannelConfigError):
        tick(Dispatcher(engine, dsettings, broken), wave_id, clock)
    with unit_of_work(engine) as s:
        assert set(s.scalars(select(SendAttempt.status))) == {AttemptStatus.RETRY}
    fixed = adapters()
    clock.advance(timedelta(minutes=5))
    tick(Dispatcher(engine, dsettings, fixed), wave_id, clock)
    assert len(fixed[Channel.EMAIL].sent) == 2


@pytest.mark.postgres
def test_concurrent_dispatchers_never_send_twice(
    pg_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    from reconsent.db import make_engine

    engine = make_engine(pg_url, pool_size=10)
    settings = make_settings(tmp_path, pg_url)
    wave_id = wave_with(engine, clock, n=60)
    fakes = adapters()
    barrier = threading.Barrier(4)

    def run() -> None:
        d = Dispatcher(engine, settings, fakes)
        barrier.wait()
        for lo, hi in d.due_ranges(wave_id, clock.now(), 1000):
            d.advance(wave_id, lo, hi, clock.now())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m.request_id for m in fakes[Channel.EMAIL].sent]
    assert len(ids) == 60 and len(set(ids)) == 60
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == 60
        wave = s.get_one(Wave, wave_id)
        assert wave.id == wave_id
    engine.dispose()


def test_daily_cap_per_channel_defers_the_rest_to_tomorrow(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=5, daily_cap={"email": 2})
    fakes = adapters()
    d = Dispatcher(engine, dsettings, fakes)
    tick(d, wave_id, clock)
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 2
    clock.advance(timedelta(hours=5))  # still the same UTC day
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 2
    clock.set(datetime(2026, 12, 2, 0, 0, tzinfo=UTC))  # next UTC day
    tick(d, wave_id, clock)
    assert len(fakes[Channel.EMAIL].sent) == 4
    assert len({m.request_id for m in fakes[Channel.EMAIL].sent}) == 4


def test_rate_limit_paces_a_channel(
    engine: Engine, clock: FixedClock, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(tmp_path, db_url, send_rate_per_second={"email": 2})
    wave_id = wave_with(engine, clock, n=6)
    fakes = adapters()
    slept: list[float] = []
    fake_time = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fake_time[0] += seconds

    d = Dispatcher(engine, settings, fakes, sleep=sleep, clock=lambda: fake_time[0])
    for lo, hi in d.due_ranges(wave_id, clock.now(), 100):
        d.advance(wave_id, lo, hi, clock.now())
    assert len(fakes[Channel.EMAIL].sent) == 6
    # A burst of 2, then 2 more each second: 6 messages take 2 seconds of pacing.
    assert sum(slept) == pytest.approx(2.0)


def test_a_paced_channel_is_claimed_one_chunk_at_a_time(
    engine: Engine, clock: FixedClock, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(tmp_path, db_url, send_rate_per_second={"email": 2})
    wave_id = wave_with(engine, clock, n=7)
    fakes = adapters()
    claimed_when_sent: list[int] = []

    def outcome(_message: OutboundMessage) -> None:
        with unit_of_work(engine) as s:  # what is claimed while a chunk is with the provider
            claimed_when_sent.append(
                s.scalar(
                    select(func.count())
                    .select_from(SendAttempt)
                    .where(SendAttempt.status.in_([AttemptStatus.CLAIMED, AttemptStatus.SENDING]))
                )
                or 0
            )

    fakes[Channel.EMAIL].outcome = outcome
    d = Dispatcher(engine, settings, fakes, sleep=lambda _s: None, clock=lambda: 0.0)
    for lo, hi in d.due_ranges(wave_id, clock.now(), 100):
        d.advance(wave_id, lo, hi, clock.now())
    # Four chunks (2+2+2+1), each claimed just before it left: never more than one chunk.
    assert len(fakes[Channel.EMAIL].sent) == 7
    assert max(claimed_when_sent) == 2
    assert len({m.request_id for m in fakes[Channel.EMAIL].sent}) == 7


def test_due_ranges_are_found_by_keyset_and_cover_every_due_request_once(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        wave = factories.add_wave(s, now)
        ids = []
        for n in range(23):
            c = factories.add_contact(s, now, f"r{n}")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=900))
            request = factories.add_request(s, now, wave, c)
            if n % 5 == 4:  # not due yet: left out of every range
                request.next_action_at = now + timedelta(days=1)
            else:
                ids.append(request.id)
        wave_id = wave.id
    d = Dispatcher(engine, settings, {})
    ranges = d.due_ranges(wave_id, now, 5)
    covered = [i for i in ids if any(lo <= i <= hi for lo, hi in ranges)]
    assert covered == ids and len(ranges) == 4  # 19 due: 5 + 5 + 5 + 4
    assert all(hi < lo for (_, hi), (lo, _) in itertools.pairwise(ranges))
    assert [r for r in ranges if r[0] == ids[0]] == [ranges[0]] and ranges[-1][1] == ids[-1]
    assert d.due_ranges(wave_id, now, 1000) == [(ids[0], ids[-1])]
