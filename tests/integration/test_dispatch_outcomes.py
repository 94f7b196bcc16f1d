"""Dispatching meets the providers' answers: a transient error is retried with backoff,
a permanent one blames the address, a message that cannot be built blames nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from channels.outbox import FileOutbox
from models import Contact, SendAttempt, Suppression
from reconsent.db import unit_of_work
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.ports import OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.vocab import AttemptStatus, Channel, SuppressionReason
from reconsent.settings import Settings
from tests.support.dispatch_waves import tick, wave_with
from tests.support.fakes import RecordingAdapter, adapters
from tests.support.messages import message_builder


def test_transient_errors_retry_with_backoff_then_escalate(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=1)

    def throttled(m: OutboundMessage) -> SendResult:
        return SendResult(
            m.attempt_id, SendOutcome.TRANSIENT, "fake", error_code="429", retry_after=120
        )

    fakes = adapters(email=RecordingAdapter(Channel.EMAIL, outcome=throttled))
    d = Dispatcher(engine, dsettings, fakes)
    tick(d, wave_id, clock)
    with unit_of_work(engine) as s:
        attempt = s.scalars(select(SendAttempt)).one()
        assert (attempt.status, attempt.tries) == (AttemptStatus.RETRY, 1)
        assert attempt.next_retry_at == clock.now() + timedelta(
            seconds=120
        )  # Retry-After beats 30 s
    clock.advance(timedelta(seconds=60))
    tick(d, wave_id, clock)  # not yet due
    with unit_of_work(engine) as s:
        assert s.scalars(select(SendAttempt.tries)).one() == 1
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        tick(d, wave_id, clock)
    with unit_of_work(engine) as s:
        attempts = {a.channel: a for a in s.scalars(select(SendAttempt))}
    assert attempts[Channel.EMAIL].status is AttemptStatus.FAILED
    assert attempts[Channel.EMAIL].tries == dsettings.send_max_tries
    assert attempts[Channel.SMS].status is AttemptStatus.SENT  # escalated after the retries
    assert len(fakes[Channel.SMS].sent) == 1


def test_permanent_error_escalates_at_once_and_suppresses_the_address(
    engine: Engine, clock: FixedClock, dsettings: Settings
) -> None:
    wave_id = wave_with(engine, clock, n=1)

    def bounced(m: OutboundMessage) -> SendResult:
        return SendResult(m.attempt_id, SendOutcome.PERMANENT, "fake", error_code="bounce")

    fakes = adapters(email=RecordingAdapter(Channel.EMAIL, outcome=bounced))
    tick(Dispatcher(engine, dsettings, fakes), wave_id, clock)
    assert len(fakes[Channel.SMS].sent) == 1  # same tick, next channel
    with unit_of_work(engine) as s:
        sup = s.scalars(select(Suppression)).one()
        assert (sup.channel, sup.reason) == (Channel.EMAIL, SuppressionReason.BOUNCE)
        assert sup.address_hash is not None


def test_a_line_break_in_a_name_never_suppresses_the_address(
    engine: Engine, clock: FixedClock, dsettings: Settings, tmp_path: Path
) -> None:
    """A CR LF in a given name (stored before imports refused it) made the outbox fail
    the attempt as ``invalid_address`` and suppress the person's valid e-mail. The name
    is normalised into the message; and a message that cannot be built is a failed
    attempt (``UNSENDABLE``), never a suppression (issue 17)."""
    wave_id = wave_with(engine, clock, n=2)
    with unit_of_work(engine) as s:
        for contact in s.scalars(select(Contact)):
            contact.given_name = "Anna\r\nBcc: someone@example.net"
    outbox = FileOutbox(Channel.EMAIL, tmp_path / "outbox", clock=clock)
    fakes: dict[Channel, object] = {**adapters(), Channel.EMAIL: outbox}
    tick(Dispatcher(engine, dsettings, fakes), wave_id, clock)  # type: ignore[arg-type]
    written = sorted((tmp_path / "outbox" / "email").glob("*.eml"))
    assert len(written) == 2
    headers = written[0].read_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"Bcc:" not in headers.replace(b"Anna Bcc:", b"")  # one To line, no new header
    assert b"Anna Bcc: someone@example.net" in headers or b"=?utf-8?" in headers
    with unit_of_work(engine) as s:
        assert s.scalars(select(Suppression)).all() == []
    unbuildable = message_builder()(999, to_name="Anna\r\nBcc: x@example.net")  # no cleaning
    [result] = outbox.send([unbuildable])
    assert (result.outcome, result.error_code) == (SendOutcome.UNSENDABLE, "render_error")
