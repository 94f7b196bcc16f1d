"""The portal against running waves: an objection stops every wave; expired links renew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import Contact, RightsRequest, WaveRequest
from reconsent.db import unit_of_work
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, RequestStatus, RightsKind, RightsStatus
from reconsent.planning.planner import plan_wave
from reconsent.rights.renewals import send_link_renewals
from reconsent.settings import Settings
from tests.support import factories
from tests.support.fakes import RecordingAdapter, adapters

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db


def _two_waves(engine: Engine, clock: FixedClock) -> list[int]:
    """Two waves that both ask "ada" and "bob" (stale consent, e-mail then SMS)."""
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        for name, phone in (("ada", "+393331111111"), ("bob", "+393332222222")):
            person = factories.add_contact(s, now, name, email=f"{name}@example.com", phone=phone)
            factories.consent_to_channels(s, now, person, purposes, now - timedelta(days=800))
        waves = [factories.add_wave(s, now, name=f"Wave {n}") for n in (1, 2)]
        for wave in waves:
            plan_wave(s, wave, now)
        return [w.id for w in waves]


def _tick(dispatcher: Dispatcher, wave_ids: list[int], clock: FixedClock) -> None:
    for wave_id in wave_ids:
        for lo, hi in dispatcher.due_ranges(wave_id, clock.now(), 100):
            dispatcher.advance(wave_id, lo, hi, clock.now())


def _to(fake: RecordingAdapter, address: str) -> list[str]:
    return [m.link for m in fake.sent if m.to == address]


def _path(link: str) -> str:
    return urlsplit(link).path


def test_an_objection_from_the_rights_centre_stops_the_next_send_of_every_wave(
    client: TestClient, engine: Engine, clock: FixedClock, settings: Settings, db: Db
) -> None:
    wave_ids = _two_waves(engine, clock)
    fakes = adapters()
    dispatcher = Dispatcher(engine, settings, fakes)
    _tick(dispatcher, wave_ids, clock)
    ada_links = _to(fakes[Channel.EMAIL], "ada@example.com")
    assert len(ada_links) == 2 and len(_to(fakes[Channel.EMAIL], "bob@example.com")) == 2

    rights = client.get(_path(ada_links[0]) + "/rights?lang=en")
    form = rights.context["forms"]["objection"]
    objected = client.post(form["action"], data={"nonce": form["nonce"], "csrf": form["csrf"]})
    assert objected.status_code == 200
    clock.advance(timedelta(days=3))  # every wave's wait is over: the SMS step is due
    _tick(dispatcher, wave_ids, clock)

    assert [m.to for m in fakes[Channel.SMS].sent] == ["+393332222222"] * 2  # bob's only
    with unit_of_work(engine) as s:
        ada = s.execute(
            select(WaveRequest.wave_id, WaveRequest.status, WaveRequest.close_reason)
            .join(Contact, Contact.id == WaveRequest.contact_id)
            .where(Contact.external_id == "ada")
            .order_by(WaveRequest.wave_id)
        ).all()
    assert [tuple(row)[:2] for row in ada] == [
        (wave_ids[0], RequestStatus.REFUSED),  # the link's own request, closed at once
        (wave_ids[1], RequestStatus.CANCELLED),  # the other wave's, at its next tick
    ]
    assert ada[0].close_reason == "objection"


def _expired_link(
    engine: Engine, clock: FixedClock, settings: Settings, fakes: dict[Channel, RecordingAdapter]
) -> str:
    wave_ids = _two_waves(engine, clock)
    _tick(Dispatcher(engine, settings, fakes), wave_ids[:1], clock)
    link = _to(fakes[Channel.EMAIL], "ada@example.com")[0]
    clock.advance(timedelta(days=15))  # the wave's links live 14 days
    return link


def _renew(client: TestClient, link: str, lang: str = "en") -> str:
    expired = client.get(_path(link) + f"?lang={lang}")
    assert expired.status_code == 410
    renew = expired.context["renew"]
    response = client.post(
        renew["renew_url"], data={"nonce": renew["nonce"], "csrf": renew["csrf"]}
    )
    assert response.status_code == 200 and response.template.name == "message.html"
    # starlette's TestClient is typed against httpx2 (not installed), so its responses are Any
    text: str = response.text
    return text


def _renewals(engine: Engine) -> list[RightsRequest]:
    with unit_of_work(engine) as s:
        return list(
            s.scalars(
                select(RightsRequest)
                .where(RightsRequest.kind == RightsKind.LINK_RENEWAL)
                .order_by(RightsRequest.id)
            )
        )


def test_an_expired_link_asks_once_for_a_fresh_one_on_the_same_channel(
    client: TestClient, engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    fakes = adapters()
    link = _expired_link(engine, clock, settings, fakes)

    page = _renew(client, link)
    _renew(client, link, "it")  # pressed again from another rendering

    assert "We will send you a fresh link by e-mail" in page
    [renewal] = _renewals(engine)
    assert (renewal.status, renewal.channel, renewal.details) == (
        RightsStatus.OPEN,
        Channel.EMAIL,
        {"step_index": 0},
    )
    assert renewal.due_at == renewal.received_at + timedelta(days=31)
    forged = client.post(_path(link) + "/renew", data={"nonce": "n", "csrf": "x"})
    assert forged.status_code == 403 and len(_renewals(engine)) == 1

    report = send_link_renewals(engine, settings, fakes, clock.now())
    again = send_link_renewals(engine, settings, fakes, clock.now())

    assert dict(report.sent) == {"email": 1} and not again.sent
    fresh = fakes[Channel.EMAIL].sent[-1]
    assert fresh.to == "ada@example.com" and fresh.link != link
    assert client.get(_path(fresh.link)).status_code == 200  # signed now: valid again
    [done] = _renewals(engine)
    assert done.status is RightsStatus.COMPLETED
    assert done.details["sent"] == f"fake-{fresh.attempt_id}"


def test_one_fresh_link_per_request_and_link_lifetime_however_often_asked(
    client: TestClient, engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    fakes = adapters()
    link = _expired_link(engine, clock, settings, fakes)
    sent = []
    for _round in range(3):  # ask, get the link, ask again from the old link's 410 page
        _renew(client, link)
        sent.append(dict(send_link_renewals(engine, settings, fakes, clock.now()).sent))
        clock.advance(timedelta(hours=1))
    assert sent == [{"email": 1}, {}, {}]
    assert len(_renewals(engine)) == 1
    clock.advance(timedelta(days=15))  # the fresh link has expired too: one more may go
    _renew(client, link)
    assert dict(send_link_renewals(engine, settings, fakes, clock.now()).sent) == {"email": 1}


def test_a_renewal_is_declined_for_someone_who_objected_meanwhile(
    client: TestClient, engine: Engine, clock: FixedClock, settings: Settings, db: Db
) -> None:
    fakes = adapters()
    link = _expired_link(engine, clock, settings, fakes)
    _renew(client, link)
    [optout] = [m.optout_link for m in fakes[Channel.EMAIL].sent if m.to == "ada@example.com"]
    assert client.post(_path(optout), data={"confirm": "1"}).status_code == 200
    sent_before = len(fakes[Channel.EMAIL].sent)

    report = send_link_renewals(engine, settings, fakes, clock.now())

    assert dict(report.declined) == {"unsubscribe": 1} and not report.sent
    assert len(fakes[Channel.EMAIL].sent) == sent_before
    [renewal] = _renewals(engine)
    assert renewal.status is RightsStatus.DECLINED
    assert renewal.details["declined"] == "unsubscribe"


def test_a_renewal_waits_for_the_channel_calling_hours(
    client: TestClient, engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    fakes = adapters()
    wave_ids = _two_waves(engine, clock)
    dispatcher = Dispatcher(engine, settings, fakes)
    _tick(dispatcher, wave_ids[:1], clock)
    clock.advance(timedelta(days=3))
    _tick(dispatcher, wave_ids[:1], clock)  # the SMS step
    [sms_link] = _to(fakes[Channel.SMS], "+393331111111")
    clock.set(datetime(2026, 12, 19, 22, 0, tzinfo=UTC))  # Saturday 23:00 in Rome
    assert "by text message" in _renew(client, sms_link)

    night = send_link_renewals(engine, settings, fakes, clock.now())
    clock.set(datetime(2026, 12, 21, 9, 0, tzinfo=UTC))  # Monday 10:00 in Rome
    morning = send_link_renewals(engine, settings, fakes, clock.now())

    assert (night.waiting, dict(night.sent)) == (1, {})
    assert dict(morning.sent) == {"sms": 1}
    assert fakes[Channel.SMS].sent[-1].link != sms_link
