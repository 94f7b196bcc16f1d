"""Must hold: STOP replies and objections that land while a paced SMS batch is going out
stop it for those people at once. Measured where it matters: at the provider, by the
emulated Twilio's arrival time of each message, against the time the "no" was committed
(real threads, the real Twilio SDK over HTTP, SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.testclient import TestClient

from reconsent.db import unit_of_work
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.ports import ChannelAdapter, OutboundMessage, SendResult
from reconsent.kernel.vocab import Channel, CollectionMethod
from reconsent.ledger.objections import record_objection

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World

INBOUND = "http://portal.test/webhooks/twilio/sms-inbound"
PEOPLE = 40
RATE = 10  # SMS per second: four chunks of ten, a second apart


class _Signalling:
    """The real SMS adapter, telling the test when the first chunk has reached Twilio."""

    def __init__(self, inner: ChannelAdapter, first_chunk: threading.Event) -> None:
        self.inner = inner
        self.channel, self.provider = inner.channel, inner.provider
        self.max_batch, self.idempotent = inner.max_batch, inner.idempotent
        self.reports_back = inner.reports_back
        self.first_chunk = first_chunk

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results = self.inner.send(messages)
        self.first_chunk.set()
        return results


def test_nothing_reaches_twilio_after_a_stop_or_an_objection_is_committed(
    world: World, twilio: TwilioEmulator, client: TestClient
) -> None:
    names = [f"p{i:02d}" for i in range(PEOPLE)]
    ids = world.people(*names)
    wave_id = world.wave("sms")
    paced = world.settings.model_copy(update={"send_rate_per_second": {"sms": float(RATE)}})
    first_chunk = threading.Event()
    adapters = world.adapters()
    adapters[Channel.SMS] = _Signalling(adapters[Channel.SMS], first_chunk)
    dispatcher = Dispatcher(world.engine, paced, adapters)
    failures: list[BaseException] = []

    def send_batch() -> None:
        try:
            now = world.clock.now()
            for lo, hi in dispatcher.due_ranges(wave_id, now, 1000):
                dispatcher.advance(wave_id, lo, hi, now)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    sender = threading.Thread(target=send_batch)
    sender.start()
    assert first_chunk.wait(timeout=30)
    committed: dict[str, float] = {}  # phone -> monotonic time the "no" was committed
    # People in every chunk, the one going out now and the later ones, say no meanwhile.
    for name in ("p03", "p12", "p19", "p27", "p33", "p38"):
        phone = world.phone(name)
        answer = twilio.fire_inbound_sms(INBOUND, from_=phone, body="STOP", client=client)
        assert answer.status_code == 200
        committed[phone] = time.monotonic()  # the reply comes after the commit
    for name in ("p15", "p24", "p36"):  # objections from the rights centre / an operator
        with unit_of_work(world.engine) as session:
            record_objection(
                session,
                request_id=None,
                contact_id=ids[name],
                method=CollectionMethod.OPERATOR,
                channel=None,
                evidence={},
                ctx=world.ledger_context(),
            )
        committed[world.phone(name)] = time.monotonic()
    sender.join(timeout=60)
    assert not sender.is_alive() and failures == []

    arrivals: dict[str, list[float]] = {}
    for message in twilio.created("Messages"):
        arrivals.setdefault(message.params["To"], []).append(message.arrived_at)
    late = {
        phone: [t - when for t in arrivals.get(phone, []) if t > when]
        for phone, when in committed.items()
    }
    assert {phone: times for phone, times in late.items() if times} == {}
    # The race was real: the batch was still going out when the "no"s landed, and the
    # people of the later chunks were never texted.
    last_no, last_sms = max(committed.values()), max(t for ts in arrivals.values() for t in ts)
    assert last_sms > min(committed.values())
    spared = [phone for phone in committed if phone not in arrivals]
    assert len(spared) >= 3, (spared, last_no, last_sms)
    assert len(arrivals) == PEOPLE - len(spared)  # everybody else got exactly one
    assert all(len(times) == 1 for times in arrivals.values())
