"""Receipts read from the ledger and the catalog tell the truth: the purpose's own facts,
every event per purpose in order, the controller recorded with each event."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models import Contact, Purpose
from reconsent.campaigns.catalog_file import load_catalog
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, append_events
from reconsent.ledger.proof import contact_proof
from reconsent.ledger.receipt_signing import new_key, public_key_of, sign_receipt, verify_receipt
from reconsent.ledger.receipts import build_receipt, load_receipt
from reconsent.settings import Settings
from tests.support import factories

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECORDED = "Contact Centre Demo S.r.l."
TODAY = "Example Contact Centre S.r.l."


def _event(
    contact: Contact,
    purpose: Purpose,
    state: ConsentState,
    at: Any,
    method: CollectionMethod,
    channel: Channel | None,
) -> NewEvent:
    return NewEvent(
        contact_id=contact.id,
        subject_id=contact.subject_id,
        purpose=purpose,
        state=state,
        occurred_at=at,
        method=method,
        actor="test",
        channel=channel,
        language="en",
        notice=NoticeRef(None, "2026-09", "d" * 64),
    )


def _seed(engine: Engine, settings: Settings, clock: FixedClock) -> str:
    """The example catalog; a person who agreed to e-mail offers on a call and to the
    sharing on the portal, then withdrew the e-mail offers by SMS, all recorded by
    the controller of the time."""
    now = clock.now()
    then = LedgerContext(controller=RECORDED, jurisdiction="IT", now=now)
    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, now)
        purposes = {p.code: p for p in session.scalars(select(Purpose))}
        contact = factories.add_contact(session, now, "R1", locale="en")
        given_at = now - timedelta(days=10)
        append_events(
            session,
            [
                _event(contact, purposes["marketing_email"], ConsentState.GIVEN, given_at,
                       CollectionMethod.IVR, Channel.IVR),
                _event(contact, purposes["third_party_sharing"], ConsentState.GIVEN, given_at,
                       CollectionMethod.PORTAL, Channel.EMAIL),
            ],
            then,
        )  # fmt: skip
        append_events(
            session,
            [
                _event(contact, purposes["marketing_email"], ConsentState.WITHDRAWN,
                       now - timedelta(days=2), CollectionMethod.SMS, Channel.SMS),
            ],
            then,
        )  # fmt: skip
        return contact.subject_id


def _receipt(engine: Engine, settings: Settings) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        contact = _contact(session)
        return build_receipt(load_receipt(session, contact, settings, "en"))


def _contact(session: Session) -> Contact:
    found = session.scalar(select(Contact).where(Contact.external_id == "R1"))
    assert found is not None
    return found


def _purposes(receipt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["purposeCode"]: p for s in receipt["services"] for p in s["purposes"]}


def test_a_receipt_for_a_third_party_purpose_says_so(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _seed(engine, settings, clock)

    receipt = _receipt(engine, settings)

    purposes = _purposes(receipt)
    shared = purposes["third_party_sharing"]
    assert shared["thirdPartyDisclosure"] is True
    assert "independent controllers" in shared["thirdPartyName"]
    assert shared["recipients"] == [
        "Business partners in energy, telecoms and insurance (independent controllers)"
    ]
    assert shared["lawfulBasis"] == "consent"
    assert shared["piiCategory"] == [
        "name",
        "contact details: e-mail address",
        "contact details: phone number",
    ]
    assert shared["retention"]["expired"] == 0
    email = purposes["marketing_email"]
    assert email["thirdPartyDisclosure"] is False
    assert email["recipients"] == ["SendGrid (processor: e-mail delivery)"]
    assert email["retention"] == {
        "refused": 0,
        "withdrawn": 0,
        "expired": 6,
        "text": "Kept while the consent is in force; after a refusal: not kept; "
        "after a withdrawal: not kept; after it expires: kept 6 months.",
    }
    assert receipt["sensitive"] is False


def test_after_a_withdrawal_the_receipt_shows_the_earlier_consent_and_the_withdrawal(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _seed(engine, settings, clock)

    receipt = _receipt(engine, settings)

    email = _purposes(receipt)["marketing_email"]
    assert email["consentState"] == "withdrawn"
    assert [(h["state"], h["collectionMethod"]) for h in email["history"]] == [
        ("given", "phone call (keypad)"),
        ("withdrawn", "text message reply (keyword)"),
    ]
    records = [r for r in receipt["consentRecords"] if r["purposeCode"] == "marketing_email"]
    assert [r["state"] for r in records] == ["given", "withdrawn"]
    assert records[1]["prevHash"] is not None  # the chain: each event names the one before
    assert receipt["collectionMethod"] == "text message reply (keyword)"
    assert all(" via " not in r["collectionMethod"] for r in receipt["consentRecords"])


def test_the_controller_shown_is_the_one_recorded_when_the_settings_changed(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _seed(engine, settings, clock)
    today = settings.model_copy(
        update={
            "controller_name": TODAY,
            "controller_contact": "dpo@example.it",
            "controller_address": "Via Roma 1, 20121 Milano",
            "controller_phone": "+39 02 1234567",
        }
    )

    receipt = _receipt(engine, today)

    [controller] = receipt["piiControllers"]
    assert controller["piiController"] == RECORDED
    assert controller["email"] == "dpo@example.it"
    assert (controller["address"], controller["phone"]) == (
        "Via Roma 1, 20121 Milano",
        "+39 02 1234567",
    )
    assert {r["controller"] for r in receipt["consentRecords"]} == {RECORDED}
    assert TODAY not in str(receipt)
    with unit_of_work(engine) as session:
        proof = contact_proof(session, "R1")
    assert {e["controller"] for e in proof["events"]} == {RECORDED}


def test_the_signed_receipt_is_the_receipt_json(
    engine: Engine, settings: Settings, clock: FixedClock
) -> None:
    _seed(engine, settings, clock)
    key = new_key()

    receipt = _receipt(engine, settings)
    signed = sign_receipt(receipt, key)

    assert verify_receipt(signed, public_key_of(key))
    assert {k: v for k, v in signed.items() if k not in ("publicKey", "signature")} == receipt
    tampered = dict(signed)
    tampered["services"] = [
        {**s, "purposes": [{**p, "thirdPartyDisclosure": False} for p in s["purposes"]]}
        for s in signed["services"]
    ]
    assert not verify_receipt(tampered, public_key_of(key))
