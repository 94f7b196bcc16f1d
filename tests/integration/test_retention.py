"""Must hold (issue 15): after ``retention apply`` the minimised are never contacted again
(a re-import under a new CRM id is suppressed by planning and the send gate), ``ledger
verify`` still passes, their identifying evidence can no longer be read; a person with a
consent in force is untouched; a dry run changes nothing; a second run changes nothing."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, func, insert, select

from models import ConsentEvent, Contact, EvidenceKey, Purpose, Suppression, Wave
from reconsent.db import unit_of_work
from reconsent.eligibility.send_gate import person_gate
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.evidence_sealing import EvidenceReader
from reconsent.ledger.proof import contact_proof
from reconsent.ledger.verify import verify_ledger
from reconsent.planning.classification import classify
from reconsent.retention.minimisation import RetentionReport, apply_retention
from reconsent.rights.subject_requests import erase_contact
from tests.support import factories
from tests.support.evidence import opened, wrapping_key

RETENTION = {"refused": 0, "withdrawn": 0, "expired": 6}
PORTAL_EVIDENCE = {"token_id": "t-1", "ip": "203.0.113.9", "user_agent": "Firefox/140"}
MONTHS = 12


def _answer(s: Any, at: datetime, contact: Contact, purpose: Purpose, state: ConsentState) -> None:
    """A portal answer at ``at``, with the portal's evidence (address and browser)."""
    factories.record(
        s, at, contact, purpose, state, at,
        method=CollectionMethod.PORTAL, channel=Channel.EMAIL, evidence=PORTAL_EVIDENCE,
    )  # fmt: skip


def _base(engine: Engine, clock: FixedClock) -> dict[str, int]:
    """Five people, seen two years ago: refused by the portal (due), consent in force
    (kept), never answered (due), refused but sharing an e-mail with the kept one (kept),
    consent expired three months ago (within the six months of ``expired``)."""
    now = clock.now()
    long_ago = now - timedelta(days=730)
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, long_ago)
        for purpose in purposes.values():
            purpose.retention = dict(RETENTION)
        email = purposes["marketing_email"]
        people = {
            name: factories.add_contact(s, long_ago, name)
            for name in ("REFUSED", "GIVEN", "SILENT", "EXPIRED")
        }
        people["HOUSEMATE"] = factories.add_contact(
            s, long_ago, "HOUSEMATE", email=factories.own_email("GIVEN")
        )
        _answer(s, long_ago, people["REFUSED"], email, ConsentState.REFUSED)
        _answer(s, long_ago, people["HOUSEMATE"], email, ConsentState.REFUSED)
        _answer(s, now - timedelta(days=30), people["GIVEN"], email, ConsentState.GIVEN)
        email.lifetime_months = 21  # the EXPIRED person's consent lapsed 3 months ago
        _answer(s, long_ago, people["EXPIRED"], email, ConsentState.GIVEN)
        email.lifetime_months = 24
        return {name: c.id for name, c in people.items()}


def _apply(engine: Engine, clock: FixedClock, *, dry_run: bool = False) -> RetentionReport:
    ctx = LedgerContext("Test S.r.l.", "IT", clock.now(), wrapping_key())
    return apply_retention(engine, ctx, unanswered_months=MONTHS, dry_run=dry_run)


def _snapshot(engine: Engine) -> tuple[Any, ...]:
    with unit_of_work(engine) as s:
        contacts = s.execute(
            select(
                Contact.id, Contact.email, Contact.phone, Contact.given_name, Contact.erased_at
            ).order_by(Contact.id)
        ).all()
        keys = s.execute(
            select(EvidenceKey.subject_id, EvidenceKey.wrapped_key).order_by(EvidenceKey.subject_id)
        ).all()
        suppressions = s.scalar(select(func.count()).select_from(Suppression))
        events = s.scalar(select(func.count()).select_from(ConsentEvent))
    return tuple(contacts), tuple(keys), suppressions, events


def test_retention_minimises_the_due_keeps_the_rest_and_the_ledger_still_verifies(
    engine: Engine, clock: FixedClock
) -> None:
    ids = _base(engine, clock)
    before = _snapshot(engine)
    dry = _apply(engine, clock, dry_run=True)
    assert _snapshot(engine) == before  # a dry run changes nothing
    report = _apply(engine, clock)
    assert report.as_dict() == {**dry.as_dict(), "dry_run": False}  # the dry run said it
    assert report.minimised == {"refused": 1, "never_answered": 1}
    assert report.kept == {
        "consent_in_force": 1, "same_person_kept": 1, "within_retention": 1
    }  # fmt: skip
    assert report.evidence_keys_shredded == 1  # SILENT never had evidence, nor a key
    assert report.addresses_suppressed == 4
    assert "203.0.113.9" not in json.dumps(report.as_dict())

    with unit_of_work(engine) as s:
        people = {name: s.get_one(Contact, cid) for name, cid in ids.items()}
        for name in ("REFUSED", "SILENT"):
            gone = people[name]
            assert gone.erased_at == clock.now()
            assert (gone.given_name, gone.family_name, gone.email, gone.phone) == (None,) * 4
            assert (gone.email_hash, gone.phone_hash, gone.municipality) == (None,) * 3
        for name in ("GIVEN", "HOUSEMATE", "EXPIRED"):  # untouched
            kept = people[name]
            assert kept.erased_at is None and kept.email and kept.given_name == "Giulia"
        refused_events = s.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == ids["REFUSED"])
        ).all()
        given_events = s.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == ids["GIVEN"])
        ).all()
        proof = contact_proof(s, "REFUSED", wrapping_key())
        kept_proof = contact_proof(s, "GIVEN", wrapping_key())
    # The chains still verify: the ledger was never updated, only a key deleted.
    assert verify_ledger(engine).ok
    # The identifying evidence can no longer be read...
    [event] = refused_events
    assert opened(engine, event) == {"token_id": "t-1", "evidence_shredded": True}
    assert proof["evidence_shredded"] and proof["events"][0]["evidence"]["evidence_shredded"]
    assert "203.0.113.9" not in json.dumps(proof)
    # ... while a kept person's still is.
    assert opened(engine, given_events[0]) == PORTAL_EVIDENCE
    assert not kept_proof["evidence_shredded"]
    assert kept_proof["events"][0]["evidence"] == PORTAL_EVIDENCE

    # A second run changes nothing.
    after = _snapshot(engine)
    again = _apply(engine, clock)
    assert again.minimised == {} and again.evidence_keys_shredded == 0
    assert _snapshot(engine) == after


def test_a_minimised_person_reimported_under_a_new_id_is_never_contacted(
    engine: Engine, clock: FixedClock
) -> None:
    _base(engine, clock)
    _apply(engine, clock)
    clock.advance(timedelta(days=3))
    later = clock.now()
    with unit_of_work(engine) as s:
        for name in ("REFUSED", "SILENT"):  # the same addresses from another CRM, a customer
            factories.add_contact(
                s,
                later,
                f"HUBSPOT-{name}",
                email=factories.own_email(name),
                phone=factories.own_phone(name),
                customer_since=date(2024, 3, 1),
            )
        wave = factories.add_wave(s, later, name="after retention")
        classified = classify(s, s.get_one(Wave, wave.id), later)
        for name in ("REFUSED", "SILENT"):
            new = s.scalars(select(Contact).where(Contact.external_id == f"HUBSPOT-{name}")).one()
            row = s.execute(select(classified).where(classified.c.contact_id == new.id)).one()
            assert row.reason == "suppressed", name  # planning never asks them
            gate = person_gate(s, new, s.get_one(Wave, wave.id))
            assert gate.blocked is not None or all(
                (gate.blocks.get(c) or "").startswith("suppressed") for c in Channel
            ), name  # nor does the send-time gate


def test_the_sealed_evidence_does_not_open_once_the_key_is_gone(
    engine: Engine, clock: FixedClock
) -> None:
    ids = _base(engine, clock)
    with unit_of_work(engine) as s:
        event = s.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == ids["REFUSED"])
        ).one()
        subject = event.subject_id
        wrapped = s.get_one(EvidenceKey, subject).wrapped_key
    assert "ip" not in event.evidence and isinstance(event.evidence["sealed"], str)
    assert wrapped is not None
    _apply(engine, clock)
    with unit_of_work(engine) as s:
        assert s.get_one(EvidenceKey, subject).wrapped_key is None
    # The wrapping key kept outside the database does not open it either: only the
    # subject's data key did, and it is gone.
    raw = base64.b64decode(event.evidence["sealed"])
    aad = f"reconsent:evidence:{subject}:{event.event_id}".encode()
    with pytest.raises(InvalidTag):
        AESGCM(wrapping_key()).decrypt(raw[:12], raw[12:], aad)
    assert opened(engine, event) == {"token_id": "t-1", "evidence_shredded": True}


def test_an_erasure_shreds_the_evidence_key_and_the_chain_still_verifies(
    engine: Engine, clock: FixedClock
) -> None:
    ids = _base(engine, clock)
    ctx = LedgerContext("Test S.r.l.", "IT", clock.now(), wrapping_key())
    with unit_of_work(engine) as s:
        erase_contact(s, contact=s.get_one(Contact, ids["GIVEN"]), ctx=ctx)
    with unit_of_work(engine) as s:
        events = s.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == ids["GIVEN"])
        ).all()
    assert opened(engine, events[0]) == {"token_id": "t-1", "evidence_shredded": True}
    assert verify_ledger(engine).ok


def test_verify_flags_identifying_evidence_written_in_clear_under_v3(
    engine: Engine, clock: FixedClock
) -> None:
    ids = _base(engine, clock)
    with unit_of_work(engine) as s:
        event = s.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == ids["GIVEN"])).one()
    assert event.hash_version == 3 and verify_ledger(engine).ok
    # Only an insider bypassing the application could store it: forge one row as such,
    # with a correct v3 hash, and verify names it.
    from reconsent.kernel.rules.chain import event_hash

    with unit_of_work(engine) as s:
        codes = {pid: code for pid, code in s.execute(select(Purpose.id, Purpose.code))}
        contact = s.get_one(Contact, ids["EXPIRED"])
        head = s.scalars(
            select(ConsentEvent.hash)
            .where(ConsentEvent.subject_id == contact.subject_id)
            .order_by(ConsentEvent.id.desc())
        ).first()
        fields: dict[str, Any] = {
            c.name: getattr(event, c.name) for c in ConsentEvent.__table__.columns
        }
        fields.update(
            id=None,
            event_id="forged-in-clear",
            subject_id=contact.subject_id,
            contact_id=contact.id,
            evidence={"ip": "198.51.100.1"},
            dedupe_key=None,
            prev_hash=head,
        )
        fields["hash"] = event_hash({**fields, "purpose": codes[event.purpose_id]}, head, 3)
        del fields["id"]
        s.execute(insert(ConsentEvent).values(**fields))
    report = verify_ledger(engine)
    assert ("forged-in-clear", "unsealed_evidence") in {(b.event_id, b.kind) for b in report.breaks}


def test_sealed_evidence_opens_only_with_the_key_and_only_on_its_own_event(
    engine: Engine, clock: FixedClock
) -> None:
    ids = _base(engine, clock)
    with unit_of_work(engine) as s:
        event = s.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == ids["GIVEN"])).one()
        without_key = EvidenceReader(s, None).open(event.subject_id, event.event_id, event.evidence)
        moved = EvidenceReader(s, wrapping_key()).open(
            event.subject_id, "another-event", event.evidence
        )
        proof = contact_proof(s, "GIVEN")  # no key given: the proof still works
    assert without_key == {"token_id": "t-1", "evidence_sealed": True}
    assert moved == {"token_id": "t-1", "evidence_sealed": True}  # bound to its event
    assert proof["events"][0]["evidence"] == {"token_id": "t-1", "evidence_sealed": True}
