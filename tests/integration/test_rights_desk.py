"""The operator's rights desk on SQLite and PostgreSQL: each answer told to the person
once, with its reason (measured at the file outbox); deadlines with extensions; a
correction applied to the contact and its hashes; a restriction lifted; an erasure
and an objection passed on to the CRM and listed on the request (art. 19)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cache

import pytest
from sqlalchemy import Engine, select

from models import (
    ConsentEvent,
    Contact,
    CrmWebhookDelivery,
    Purpose,
    RightsNotice,
    RightsRequest,
    Suppression,
)
from reconsent.crm_webhooks.endpoint_admin import add_endpoint
from reconsent.crm_webhooks.secret_box import SecretBox
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.ports import ChannelAdapter
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    ConsentState,
    RightsKind,
    RightsStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext
from reconsent.planning.planner import preflight
from reconsent.rights.intake import add_request
from reconsent.rights.notice_sending import send_notices
from reconsent.rights.rectification import apply_rectification
from reconsent.rights.subject_requests import (
    object_to_marketing,
    request_rectification,
    restrict_contact,
)
from reconsent.rights.views import request_view, rights_rows
from reconsent.rights.workflow import close_request, extend_request, lift_restriction
from reconsent.settings import Settings
from reconsent.wiring import build_adapter
from tests.support import factories

BOX = SecretBox("test-crm-webhook-key")


def _ctx(clock: FixedClock) -> LedgerContext:
    return LedgerContext(controller="Test S.r.l.", jurisdiction="IT", now=clock.now())


def _adapters(settings: Settings) -> Callable[[Channel], ChannelAdapter]:
    return cache(lambda channel: build_adapter(settings, channel))


@pytest.fixture(autouse=True)
def _catalog(engine: Engine, clock: FixedClock) -> None:
    with unit_of_work(engine) as s:
        factories.add_catalog(s, clock.now())


def _person(
    engine: Engine,
    clock: FixedClock,
    external_id: str = "crm-1",
    *,
    email: str | None = factories.OWN,
    locale: str = "it",
) -> int:
    """A person with a stale e-mail consent: a wave would ask them."""
    with unit_of_work(engine) as s:
        purpose = s.scalar(select(Purpose).where(Purpose.code == "marketing_email"))
        assert purpose is not None
        contact = factories.add_contact(s, clock.now(), external_id, email=email, locale=locale)
        factories.record(
            s,
            clock.now(),
            contact,
            purpose,
            ConsentState.GIVEN,
            clock.now() - timedelta(days=800),
        )
        return contact.id


def _intake(engine: Engine, clock: FixedClock, contact_id: int, kind: RightsKind) -> int:
    with unit_of_work(engine) as s:
        row = add_request(
            s,
            contact=s.get_one(Contact, contact_id),
            kind=kind,
            received_via="phone",
            received_at=clock.now() - timedelta(days=3),
            operator="anna.operator",
            now=clock.now(),
        )
        return row.id


def _emails(settings: Settings) -> list[EmailMessage]:
    folder = settings.outbox_path / "email"
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.glob("notice-*.eml"))
    ]


def _to(mail: EmailMessage) -> str:
    return str(mail["To"].addresses[0].addr_spec)


def _text(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_extended_completed_declined_each_tell_the_person_once_with_the_reason(
    engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    person = _person(engine, clock)
    access = _intake(engine, clock, person, RightsKind.ACCESS)
    portability = _intake(engine, clock, person, RightsKind.PORTABILITY)
    adapters = _adapters(settings)
    reason = "Your file is archived off-site and must be retrieved"
    for _ in range(2):  # the operator runs each command twice: one message each
        with unit_of_work(engine) as s:
            extend_request(s, access, months=2, reason=reason, actor="anna", now=clock.now())
        send_notices(engine, settings, adapters, clock.now(), request_id=access)
        with unit_of_work(engine) as s:
            close_request(
                s, access, decline=False, reason="Sent by post.", actor="anna", ctx=_ctx(clock)
            )
            close_request(
                s,
                portability,
                decline=True,
                reason="We hold no data you gave us in a structured form",
                actor="anna",
                ctx=_ctx(clock),
            )
        send_notices(engine, settings, adapters, clock.now())

    mails = _emails(settings)
    assert len(mails) == 3
    subjects = [str(m["Subject"]) for m in mails]
    assert subjects == [
        f"La tua richiesta: ci serve più tempo ({access})",
        f"La tua richiesta è stata evasa ({access})",
        f"La tua richiesta: la nostra risposta ({portability})",
    ]
    extended, completed, declined = (_text(m) for m in mails)
    assert reason in extended and "28 febbraio 2027" in extended  # 28 Nov + 1 + 2 months
    assert "Sent by post." in completed
    assert "structured form" in declined and "Garante per la protezione" in declined
    assert "ricorso giurisdizionale" in declined
    assert {_to(m) for m in mails} == {factories.own_email("crm-1")}
    assert all(m["List-Unsubscribe"] is None for m in mails)  # a service message
    # The wave's manifest of links is untouched: a notice is not a wave message.
    assert not (settings.outbox_path / "index.jsonl").exists()
    with unit_of_work(engine) as s:
        notices = s.scalars(select(RightsNotice).order_by(RightsNotice.id)).all()
        assert [(n.action, n.status, n.to_address) for n in notices] == [
            ("extended", "sent", None),  # the address is kept only until the outcome
            ("completed", "sent", None),
            ("declined", "sent", None),
        ]
        with pytest.raises(DecisionError, match="only an open one"):
            extend_request(s, access, months=1, reason="again", actor="anna", now=clock.now())


def test_a_person_without_email_is_told_by_sms(
    engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    person = _person(engine, clock, email=None, locale="en")
    request = _intake(engine, clock, person, RightsKind.ACCESS)
    with unit_of_work(engine) as s:
        close_request(
            s,
            request,
            decline=True,
            reason="We could not confirm it was you",
            actor="anna",
            ctx=_ctx(clock),
        )
    report = send_notices(engine, settings, _adapters(settings), clock.now())
    again = send_notices(engine, settings, _adapters(settings), clock.now())

    files = list((settings.outbox_path / "sms").glob("notice-*.txt"))
    assert report.sent == {"sms": 1} and not again.sent and len(files) == 1
    text = files[0].read_text()
    assert f"To: {factories.own_phone('crm-1')}" in text
    assert "could not confirm it was you" in text and "Garante" in text


def test_rights_list_shows_extended_due_dates_and_overdue_flags(
    engine: Engine, clock: FixedClock
) -> None:
    person = _person(engine, clock)
    extended = _intake(engine, clock, person, RightsKind.ACCESS)
    with unit_of_work(engine) as s:
        late = add_request(
            s,
            contact=s.get_one(Contact, person),
            kind=RightsKind.OBJECTION,
            received_via="letter",
            received_at=clock.now() - timedelta(days=40),
            operator="anna",
            now=clock.now(),
        )
        late_id = late.id
        extend_request(s, extended, months=1, reason="many requests", actor="a", now=clock.now())
    with unit_of_work(engine) as s:
        rows = {r["id"]: r for r in rights_rows(s, open_only=True, now=clock.now())}
        later = {
            r["id"]: r for r in rights_rows(s, open_only=True, now=clock.now() + timedelta(days=60))
        }
    assert rows[extended]["original_due_at"] == "2026-12-28T10:00:00+00:00"
    assert rows[extended]["due_at"] == "2027-01-28T10:00:00+00:00"
    assert (rows[extended]["extension_months"], rows[extended]["overdue"]) == (1, False)
    assert (rows[late_id]["overdue"], rows[late_id]["received_via"]) == (True, "letter")
    assert later[extended]["overdue"] is True  # past the extended date, still open


def test_an_applied_rectification_changes_the_contact_and_its_hashes(
    engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    person = _person(engine, clock)
    with unit_of_work(engine) as s:
        row, _ = request_rectification(
            s,
            contact=s.get_one(Contact, person),
            corrections={
                "email": " Nuova.Mail@Example.COM ",
                "phone": "333 123 4567",
                "family_name": "Bianchi",
                "note": "please",
            },
            now=clock.now(),
        )
        request = row.id
    key = settings.address_key()
    with unit_of_work(engine) as s:
        _, fields = apply_rectification(s, request, key=key, actor="anna", now=clock.now())
        close_request(s, request, decline=False, reason=None, actor="anna", ctx=_ctx(clock))
    send_notices(engine, settings, _adapters(settings), clock.now())

    assert fields == ["email", "family_name", "phone"]
    with unit_of_work(engine) as s:
        contact = s.get_one(Contact, person)
        assert (contact.email, contact.phone, contact.family_name) == (
            "nuova.mail@example.com",
            "+393331234567",
            "Bianchi",
        )
        assert contact.email_hash == address_hash(key, AddressKind.EMAIL, "nuova.mail@example.com")
        assert contact.phone_hash == address_hash(key, AddressKind.PHONE, "+393331234567")
        view = request_view(s, request, clock.now())
    applied = next(h for h in view["history"] if h["action"] == "rectification_applied")
    assert (applied["actor"], applied["details"]) == ("anna", {"fields": fields})
    assert "nuova.mail" not in json.dumps(view["history"])  # fields named, values never
    assert view["status"] == "completed"
    assert [_to(m) for m in _emails(settings)] == ["nuova.mail@example.com"]


def test_a_lifted_restriction_makes_the_person_plannable_again(
    engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    person = _person(engine, clock)
    with unit_of_work(engine) as s:
        row, _ = restrict_contact(s, contact=s.get_one(Contact, person), now=clock.now())
        restriction = row.id
        wave = factories.add_wave(s, clock.now())
        assert preflight(s, wave, clock.now()).excluded == {"restricted": 1}
    with unit_of_work(engine) as s:
        lift_restriction(
            s,
            contact_id=person,
            reason="Your complaint was resolved",
            actor="anna",
            now=clock.now(),
        )
    with unit_of_work(engine) as s:
        again = lift_restriction(
            s, request_id=restriction, reason=None, actor="anna", now=clock.now()
        )  # a retry changes nothing
        wave = factories.add_wave(s, clock.now())
        report = preflight(s, wave, clock.now())
        steps = [h["action"] for h in request_view(s, restriction, clock.now())["history"]]
    send_notices(engine, settings, _adapters(settings), clock.now())

    assert again.id == restriction and report.eligible_total == 1 and not report.excluded
    assert steps.count("restriction_lifted") == 1
    (mail,) = _emails(settings)
    assert "GDPR art. 18(3)" in _text(mail) and "complaint was resolved" in _text(mail)


def test_erasure_and_objection_are_passed_on_to_the_crm_and_listed_on_the_request(
    engine: Engine, clock: FixedClock, settings: Settings
) -> None:
    person = _person(engine, clock)
    objector = _person(engine, clock, "crm-2")
    with unit_of_work(engine) as s:
        endpoint, _ = add_endpoint(
            s, "https://crm.example.com/h", "rights.request.*", BOX, clock.now()
        )
        endpoint_id = endpoint.id
    erasure = _intake(engine, clock, person, RightsKind.ERASURE)
    with unit_of_work(engine) as s:
        close_request(
            s,
            erasure,
            decline=False,
            reason=None,
            actor="anna",
            ctx=_ctx(clock),
            processors=["sendgrid"],
        )
        objection, _ = object_to_marketing(s, contact=s.get_one(Contact, objector), ctx=_ctx(clock))
        objection_id = objection.id
    send_notices(engine, settings, _adapters(settings), clock.now())

    with unit_of_work(engine) as s:
        bodies = [json.loads(d.body) for d in s.scalars(select(CrmWebhookDelivery))]
        erased = s.get_one(Contact, person)
        view = request_view(s, erasure, clock.now())
        objected = request_view(s, objection_id, clock.now())
        carried = s.get_one(RightsRequest, view["details"]["carried_out_as"])
        methods = set(
            s.scalars(select(ConsentEvent.method).where(ConsentEvent.contact_id == person))
        ) - {CollectionMethod.IMPORTED}
        assert (carried.kind, carried.status) == (RightsKind.ERASURE, RightsStatus.COMPLETED)
    told = {(b["type"], b["data"]["request_id"]) for b in bodies}
    assert ("rights.request.completed", erasure) in told
    assert ("rights.request.completed", objection_id) in told
    assert erased.email is None and erased.erased_at is not None
    assert methods == {CollectionMethod.OPERATOR}  # the ledger says who took it
    assert f"CRM webhook endpoint {endpoint_id}: rights.request.completed" in " ".join(
        view["recipients"]
    )
    assert "processor sendgrid: to tell, manual, under its DPA" in view["recipients"]
    assert any("rights.request.completed" in r for r in objected["recipients"])
    # Told of the erasure at the address it had, which is then forgotten.
    (mail,) = _emails(settings)
    assert _to(mail) == factories.own_email("crm-1")
    with unit_of_work(engine) as s:
        notice = s.scalar(select(RightsNotice).where(RightsNotice.rights_request_id == erasure))
        assert notice is not None and notice.to_address is None and notice.status == "sent"


def test_a_restriction_or_an_objection_taken_by_phone_is_carried_out_on_completion(
    engine: Engine, clock: FixedClock
) -> None:
    restricted = _person(engine, clock)
    objector = _person(engine, clock, "crm-2")
    restriction = _intake(engine, clock, restricted, RightsKind.RESTRICTION)
    objection = _intake(engine, clock, objector, RightsKind.OBJECTION)
    with unit_of_work(engine) as s:
        wave = factories.add_wave(s, clock.now())
        assert preflight(s, wave, clock.now()).eligible_total == 2  # taken, not yet done
    with unit_of_work(engine) as s:
        for request in (restriction, objection):
            close_request(s, request, decline=False, reason=None, actor="anna", ctx=_ctx(clock))
    with unit_of_work(engine) as s:
        wave = factories.add_wave(s, clock.now())
        report = preflight(s, wave, clock.now())
        suppressions = s.scalars(select(Suppression).where(Suppression.contact_id == objector))
        reasons = {(x.channel, x.reason) for x in suppressions}
        steps = [h["action"] for h in request_view(s, objection, clock.now())["history"]]
    assert report.eligible_total == 0
    assert report.excluded == {"restricted": 1, "objected": 1}
    assert (None, SuppressionReason.OBJECTION) in reasons  # every channel
    assert steps == ["received", "objection_recorded", "completed"]
