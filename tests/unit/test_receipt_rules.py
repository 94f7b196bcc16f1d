"""The consent receipt as a pure function: Kantara fields, the purpose's own facts, the
whole history per purpose, the controller as recorded, readable collection methods."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import Retention
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.receipt_texts import collection_method, retention_text
from reconsent.ledger.receipts import (
    ControllerContact,
    PurposeFacts,
    ReceiptData,
    ReceiptEvent,
    ReceiptItem,
    build_receipt,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RECORDED = "Contact Centre Demo S.r.l."
EMAIL = PurposeFacts("marketing_email", "Offers by email", "marketing", Channel.EMAIL)
PROFILING = PurposeFacts("profiling", "Profiling", "marketing", None)
SHARING = PurposeFacts(
    "third_party_sharing",
    "Sharing with partners",
    "sharing",
    None,
    third_party_sharing=True,
    data_categories=("name", "contact details: e-mail address"),
    recipients=("Energy partners (independent controllers)", "Insurers (independent controllers)"),
    retention=Retention(refused=0, withdrawn=1, expired=6),
)


def _event(
    event: str,
    state: ConsentState,
    days: int = 0,
    *,
    method: CollectionMethod = CollectionMethod.PORTAL,
    channel: Channel | None = Channel.EMAIL,
    controller: str = RECORDED,
) -> ReceiptEvent:
    return ReceiptEvent(
        event_id=event,
        state=state,
        occurred_at=NOW + timedelta(days=days),
        expires_at=NOW + timedelta(days=days + 730) if state is ConsentState.GIVEN else None,
        method=method,
        channel=channel,
        controller=controller,
        jurisdiction="IT",
        notice_version="2026-09",
        notice_digest="d" * 64,
        hash=event * 8,
        prev_hash=None,
    )


DATA = ReceiptData(
    controller=ControllerContact(
        "privacy@example.com", address="Via Roma 1, 20121 Milano", phone="+39 02 1234567"
    ),
    language="en",
    subject_id="subject-1",
    policy_url="https://consent.example/notice/2026-09?lang=en",
    items=(
        ReceiptItem(EMAIL, (_event("e1", ConsentState.GIVEN),)),
        ReceiptItem(PROFILING, (_event("e2", ConsentState.REFUSED, days=1),)),
    ),
)


def _purposes(receipt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["purposeCode"]: p for s in receipt["services"] for p in s["purposes"]}


def test_the_receipt_has_the_kantara_fields_and_one_purpose_per_state() -> None:
    receipt = build_receipt(DATA)

    assert list(receipt)[:11] == [
        "version",
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "consentReceiptID",
        "language",
        "piiPrincipalId",
        "piiControllers",
        "policyUrl",
        "services",
        "sensitive",
    ]
    assert receipt["consentTimestamp"] == int((NOW + timedelta(days=1)).timestamp())
    assert receipt["collectionMethod"] == "consent portal (link in an e-mail)"
    [service] = receipt["services"]
    given, refused = service["purposes"]
    assert given["purposeCode"] == "marketing_email" and given["consentState"] == "given"
    assert given["piiCategory"] == ["contact details: e-mail address"]
    assert given["termination"] == (
        "Until withdrawn or until 2028-11-30; withdraw at any time from the consent portal."
    )
    assert (given["thirdPartyDisclosure"], given["lawfulBasis"]) == (False, "consent")
    assert "thirdPartyName" not in given
    assert given["retention"] == {"text": "Not stated."}
    assert refused["termination"] == "Not in force: refused on 2026-12-02."
    assert [r["hash"] for r in receipt["consentRecords"]] == ["e1" * 8, "e2" * 8]
    assert (receipt["sensitive"], receipt["spiCat"]) == (False, [])


def test_a_receipt_for_a_third_party_purpose_says_so_and_names_the_recipients() -> None:
    data = replace(DATA, items=(ReceiptItem(SHARING, (_event("s1", ConsentState.GIVEN),)),))

    shared = _purposes(build_receipt(data))["third_party_sharing"]

    assert shared["thirdPartyDisclosure"] is True
    assert shared["thirdPartyName"] == (
        "Energy partners (independent controllers); Insurers (independent controllers)"
    )
    assert shared["recipients"] == list(SHARING.recipients)
    assert shared["piiCategory"] == ["name", "contact details: e-mail address"]
    assert shared["purposeCategory"] == ["sharing"]
    assert shared["retention"] == {
        "refused": 0,
        "withdrawn": 1,
        "expired": 6,
        "text": "Kept while the consent is in force; after a refusal: not kept; "
        "after a withdrawal: kept 1 month; after it expires: kept 6 months.",
    }


def test_a_sensitive_purpose_makes_the_receipt_sensitive_with_its_categories() -> None:
    health = replace(
        PROFILING, code="health_offers", sensitive=True, children=True, data_categories=("health",)
    )
    items = (*DATA.items, ReceiptItem(health, (_event("h1", ConsentState.GIVEN),)))

    receipt = build_receipt(replace(DATA, items=items))

    assert (receipt["sensitive"], receipt["spiCat"]) == (True, ["health"])
    assert _purposes(receipt)["health_offers"]["children"] is True
    assert _purposes(receipt)["marketing_email"]["children"] is False


def test_after_a_withdrawal_the_receipt_shows_the_consent_and_the_withdrawal_in_order() -> None:
    stop = _event("w1", ConsentState.WITHDRAWN, 3, method=CollectionMethod.SMS, channel=Channel.SMS)
    history = (_event("g1", ConsentState.GIVEN), stop)
    data = replace(DATA, items=(ReceiptItem(EMAIL, history),))

    receipt = build_receipt(data)

    email = _purposes(receipt)["marketing_email"]
    assert email["consentState"] == "withdrawn"
    assert email["termination"] == "Not in force: withdrawn on 2026-12-04."
    assert [(h["state"], h["eventId"]) for h in email["history"]] == [
        ("given", "g1"),
        ("withdrawn", "w1"),
    ]
    assert [(r["state"], r["collectionMethod"]) for r in receipt["consentRecords"]] == [
        ("given", "consent portal (link in an e-mail)"),
        ("withdrawn", "text message reply (keyword)"),
    ]
    assert receipt["collectionMethod"] == "text message reply (keyword)"


def test_the_controller_is_the_one_recorded_with_the_events_with_todays_contact_points() -> None:
    history = (
        _event("o1", ConsentState.GIVEN, controller="Old Name S.p.A."),
        _event("n1", ConsentState.WITHDRAWN, days=2),
    )
    receipt = build_receipt(replace(DATA, items=(ReceiptItem(EMAIL, history),)))

    assert [c["piiController"] for c in receipt["piiControllers"]] == [RECORDED, "Old Name S.p.A."]
    first = receipt["piiControllers"][0]
    assert (first["contact"], first["email"]) == ("privacy@example.com", "privacy@example.com")
    assert (first["address"], first["phone"]) == ("Via Roma 1, 20121 Milano", "+39 02 1234567")
    assert [r["controller"] for r in receipt["consentRecords"]] == ["Old Name S.p.A.", RECORDED]


def test_the_receipt_id_is_stable_for_one_ledger_state_and_changes_with_it() -> None:
    first = build_receipt(DATA)["consentReceiptID"]
    reordered = build_receipt(replace(DATA, items=DATA.items[::-1]))["consentReceiptID"]
    grown = ReceiptItem(PROFILING, (*DATA.items[1].history, _event("e3", ConsentState.GIVEN, 2)))
    changed = build_receipt(replace(DATA, items=(DATA.items[0], grown)))["consentReceiptID"]

    assert first == reordered and first != changed
    with pytest.raises(ValueError, match="at least one"):
        build_receipt(replace(DATA, items=()))
    with pytest.raises(ValueError, match="needs an event"):
        ReceiptItem(EMAIL, ())


@pytest.mark.parametrize(
    ("method", "channel", "source", "text"),
    [
        (CollectionMethod.IVR, Channel.IVR, None, "phone call (keypad)"),
        (CollectionMethod.PORTAL, Channel.SMS, None, "consent portal (link in a text message)"),
        (CollectionMethod.PORTAL, None, None, "consent portal"),
        (CollectionMethod.SMS, Channel.SMS, None, "text message reply (keyword)"),
        (CollectionMethod.EMAIL, Channel.EMAIL, None, "e-mail (unsubscribe link or spam report)"),
        (CollectionMethod.OPERATOR, Channel.IVR, None, "told to an operator by phone"),
        (
            CollectionMethod.IMPORTED,
            Channel.EMAIL,
            "salesforce",
            "imported from the customer records (salesforce), originally by e-mail",
        ),
        (CollectionMethod.IMPORTED, None, None, "imported from the customer records"),
        (
            CollectionMethod.IMPORTED,
            Channel.IVR,
            "rpo",
            "registration in the Italian opt-out register (RPO)",
        ),
    ],
)
def test_collection_methods_read_as_words(
    method: CollectionMethod, channel: Channel | None, source: str | None, text: str
) -> None:
    assert collection_method(method, channel, source) == text
    assert " via " not in text


def test_retention_reads_as_words() -> None:
    assert retention_text(None) == "Not stated."
    assert retention_text(Retention(refused=2, withdrawn=0, expired=12)) == (
        "Kept while the consent is in force; after a refusal: kept 2 months; "
        "after a withdrawal: not kept; after it expires: kept 12 months."
    )
    assert Retention.from_json(Retention(1, 2, 3).as_json()) == Retention(1, 2, 3)
    assert Retention(1, 2, 3).months_after(ConsentState.WITHDRAWN) == 2
    assert Retention(1, 2, 3).months_after(ConsentState.GIVEN) is None
