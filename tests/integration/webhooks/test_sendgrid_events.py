"""SendGrid's Signed Event Webhook: signature and replay window, idempotence, event mapping."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from consent_portal.app import create_app
from models import ConsentEvent
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import Delivery, SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import (
    AttemptStatus,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.settings import Settings

if TYPE_CHECKING:
    from tests.integration.webhooks.conftest import World

EVENTS = "http://portal.test/webhooks/sendgrid/events"


def _emails_out(world: World, sendgrid: SendGridEmulator, *names: str) -> dict[str, Delivery]:
    world.people(*names)
    world.tick(world.wave("email", "sms"))
    return {d.to[0]["email"].split("@")[0]: d for d in sendgrid.deliveries()}


def _attempt_id(delivery: Delivery) -> int:
    return int(delivery.custom_args["attempt_id"])


def test_a_genuine_batch_is_applied_once_and_its_replay_changes_nothing(
    world: World,
    sendgrid: SendGridEmulator,
    client: TestClient,
    clock: FixedClock,
    twilio: TwilioEmulator,
) -> None:
    out = _emails_out(world, sendgrid, "anna", "bruno")
    now = clock.now()
    batch = [
        sendgrid.event(out["anna"], "processed", now=now),
        sendgrid.event(out["anna"], "delivered", now=now),
        sendgrid.event(
            out["bruno"],
            "bounce",
            now=now,
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 <bruno@example.it>: user unknown",
        ),
    ]
    body, headers = sendgrid.signed_batch(batch, now=now)

    first = client.post(EVENTS, content=body, headers=headers)
    after_first = world.snapshot()
    again = client.post(EVENTS, content=body, headers=headers)  # SendGrid retrying the batch

    assert first.status_code == again.status_code == 200
    assert world.snapshot() == after_first
    anna, bruno = world.attempt(_attempt_id(out["anna"])), world.attempt(_attempt_id(out["bruno"]))
    assert (anna.status, anna.delivery_status) == (AttemptStatus.SENT, "delivered")
    assert (bruno.status, bruno.delivery_status, bruno.error_code) == (
        AttemptStatus.FAILED,
        "bounce",
        "5.1.1",
    )
    [suppression] = world.suppressions()
    assert (suppression.channel, suppression.reason) == (Channel.EMAIL, SuppressionReason.BOUNCE)
    assert "bruno@" not in f"{suppression.source} {bruno.error_detail}"  # no personal data kept
    request = world.request(bruno.request_id)
    assert request.step_sent_at is None and request.next_action_at == now
    assert world.webhook_events() == 3

    world.tick(request.wave_id)  # Bruno's SMS goes out at once; Anna's waits for her answer
    statuses = {a.request_id: (a.channel, a.status) for a in world.attempts()[2:]}
    assert statuses == {bruno.request_id: (Channel.SMS, AttemptStatus.SENT)}


def test_forged_tampered_stale_future_or_unsigned_batches_are_refused(
    world: World, sendgrid: SendGridEmulator, client: TestClient, clock: FixedClock
) -> None:
    out = _emails_out(world, sendgrid, "anna")
    now = clock.now()
    batch = [sendgrid.event(out["anna"], "dropped", now=now, reason="Bounced Address")]
    before = world.snapshot()
    impostor = SendGridEmulator()
    body, headers = sendgrid.signed_batch(batch, now=now)
    attempts = [
        impostor.signed_batch(batch, now=now),
        (body.replace(b'"dropped"', b'"delivered"'), headers),
        sendgrid.signed_batch(batch, now=now - timedelta(minutes=11)),
        sendgrid.signed_batch(batch, now=now + timedelta(minutes=5)),
        (body, {"Content-Type": "application/json"}),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "soon"}),
        # Not a timestamp: 40 digits (OverflowError) and a superscript two (str.isdigit)
        # were 500s; anything but 1-11 ASCII digits is a 403.
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1" * 40}),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "\u00b2".encode("latin-1")}),
        (body, {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "-1"}),
    ]

    answers = [client.post(EVENTS, content=b, headers=h).status_code for b, h in attempts]

    assert answers == [403] * len(attempts)
    assert world.snapshot() == before


def test_without_a_public_key_every_batch_is_refused(
    world: World,
    sendgrid: SendGridEmulator,
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
) -> None:
    out = _emails_out(world, sendgrid, "anna")
    unsigned = settings.model_copy(update={"sendgrid_event_public_key": None})
    body, headers = sendgrid.signed_batch(
        [sendgrid.event(out["anna"], "bounce", now=clock.now(), type="bounce")], now=clock.now()
    )
    with TestClient(create_app(unsigned, clock=clock, engine=engine)) as client:
        assert client.post(EVENTS, content=body, headers=headers).status_code == 403
    assert world.attempt(_attempt_id(out["anna"])).status is AttemptStatus.SENT


def test_a_spam_report_is_an_objection_an_unsubscribe_stops_email(
    world: World,
    sendgrid: SendGridEmulator,
    client: TestClient,
    clock: FixedClock,
    engine: Engine,
    twilio: TwilioEmulator,
) -> None:
    out = _emails_out(world, sendgrid, "anna", "bruno", "carla")
    ids = {
        name: world.request(world.attempt(_attempt_id(d)).request_id).contact_id
        for name, d in out.items()
    }
    now = clock.now()
    events = [
        sendgrid.event(out["anna"], "spamreport", now=now),
        sendgrid.event(out["bruno"], "unsubscribe", now=now),
        sendgrid.event(out["carla"], "open", now=now),
        sendgrid.event(out["carla"], "click", now=now, url="http://portal.test/c/x"),
    ]

    assert sendgrid.fire_events(EVENTS, events, now=now, client=client).status_code == 200

    with unit_of_work(engine) as session:
        withdrawn = session.execute(
            select(ConsentEvent.contact_id, ConsentEvent.method, ConsentEvent.evidence).where(
                ConsentEvent.state == ConsentState.WITHDRAWN
            )
        ).all()
    by_person = {contact: 0 for contact in ids.values()}
    for contact_id, _, _ in withdrawn:
        by_person[contact_id] += 1
    # The spam report withdraws every consent; the unsubscribe only the e-mail one.
    assert by_person == {ids["anna"]: 3, ids["bruno"]: 1, ids["carla"]: 0}
    assert {m for _, m, _ in withdrawn} == {CollectionMethod.EMAIL}
    assert {e["reason"] for _, _, e in withdrawn} == {"spam_report", "unsubscribe"}
    assert all("@" not in str(evidence) for _, _, evidence in withdrawn)
    reasons = {(s.contact_id, s.reason, s.channel) for s in world.suppressions()}
    assert reasons == {
        (ids["anna"], SuppressionReason.SPAM_REPORT, None),
        (ids["anna"], SuppressionReason.SPAM_REPORT, Channel.EMAIL),
        (ids["anna"], SuppressionReason.SPAM_REPORT, Channel.SMS),
        (ids["anna"], SuppressionReason.SPAM_REPORT, Channel.IVR),
        (ids["bruno"], SuppressionReason.UNSUBSCRIBE, Channel.EMAIL),
    }
    anna = world.request(world.attempt(_attempt_id(out["anna"])).request_id)
    assert (anna.status, anna.close_reason) == (RequestStatus.REFUSED, "spam_report")
    bruno = world.request(world.attempt(_attempt_id(out["bruno"])).request_id)
    carla = world.request(world.attempt(_attempt_id(out["carla"])).request_id)
    assert bruno.status is RequestStatus.ACTIVE  # he may still be texted and called
    assert carla.status is RequestStatus.ACTIVE  # opening or clicking is never consent

    clock.advance(timedelta(days=1))
    world.tick(carla.wave_id)
    texted = {a.request_id for a in world.attempts() if a.channel is Channel.SMS}
    assert texted == {carla.id, bruno.id}


def test_a_big_batch_and_events_not_about_our_attempts(
    world: World, sendgrid: SendGridEmulator, client: TestClient, clock: FixedClock
) -> None:
    out = _emails_out(world, sendgrid, "anna")
    now = clock.now()
    anna = out["anna"]
    foreign = Delivery("x", anna.to, "s", {}, {"attempt_id": "999999", "request_id": "1"})
    mismatched = Delivery("x", anna.to, "s", {}, {**anna.custom_args, "request_id": "999999"})
    events = [sendgrid.event(anna, "deferred", now=now, response="try later " * 20)] * 400
    events += [
        sendgrid.event(foreign, "bounce", now=now, type="bounce"),
        sendgrid.event(mismatched, "bounce", now=now, type="bounce"),
        {"event": "bounce", "email": "anna@example.it", "timestamp": 1},
    ]
    body, headers = sendgrid.signed_batch(events, now=now)
    assert len(body) > 64 * 1024  # beyond the portal's form limit: the route has its own

    assert client.post(EVENTS, content=body, headers=headers).status_code == 200
    attempt = world.attempt(_attempt_id(anna))
    assert (attempt.status, attempt.delivery_status) == (AttemptStatus.SENT, "deferred")
    assert world.suppressions() == [] and world.webhook_events() == 1
    not_json = sendgrid.event_signer.headers(b"{", now)
    assert client.post(EVENTS, content=b"{", headers=not_json).status_code == 400
