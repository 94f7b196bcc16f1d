"""The confirmation page offers the receipt: a readable page and Kantara CR 1.1 JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import ConsentEvent, Contact
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.settings import Settings

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _decide(client: TestClient, token: str, **choices: str) -> None:
    page = client.get(f"/c/{token}?lang=en")
    data = {"nonce": page.context["nonce"], "csrf": page.context["csrf"], "action": "save"}
    response = client.post(f"/c/{token}", data={**data, **choices})
    assert response.status_code == 200


def test_the_confirmation_links_to_the_receipt_the_rights_and_the_form(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    page = client.get(f"/c/{token}?lang=en")
    form = {"nonce": page.context["nonce"], "csrf": page.context["csrf"]}

    done = client.post(f"/c/{token}", data={**form, "p.marketing_email": "yes"})

    assert done.context["links"] == {
        "change": f"/c/{token}?lang=en",
        "receipt": f"/c/{token}/receipt?lang=en",
        "receipt_json": f"/c/{token}/receipt.json?lang=en",
        "rights": f"/c/{token}/rights?lang=en",
    }
    assert f'<a href="/c/{token}/receipt.json?lang=en" download>' in done.text
    assert "See your consent receipt" in done.text


def test_the_receipt_json_is_kantara_shaped_and_matches_the_ledger(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    _decide(client, token, **{"p.marketing_email": "yes", "p.marketing_sms": "no"})

    response = client.get(f"/c/{token}/receipt.json?lang=en")

    assert response.status_code == 200
    receipt = response.json()
    disposition = f'attachment; filename="consent-receipt-{receipt["consentReceiptID"]}.json"'
    assert response.headers["content-disposition"] == disposition
    with unit_of_work(db.engine) as session:
        contact = session.get(Contact, seeded.contact_id)
        assert contact is not None
        events = list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert (receipt["jurisdiction"], receipt["language"]) == ("IT", "en")
    assert receipt["piiPrincipalId"] == contact.subject_id
    assert receipt["consentTimestamp"] == int(events[-1].occurred_at.timestamp())
    assert receipt["collectionMethod"] == "portal via email"
    assert receipt["piiControllers"][0]["piiController"] == "Example Contact Centre S.r.l."
    assert receipt["piiControllers"][0]["email"] == "privacy@example.com"
    assert receipt["policyUrl"] == "http://portal.test/notice/2026-09?lang=en"
    assert (receipt["sensitive"], receipt["spiCat"]) == (False, [])
    [service] = receipt["services"]
    purposes = {p["purposeCode"]: p for p in service["purposes"]}
    assert purposes["marketing_email"]["consentState"] == "given"
    assert purposes["marketing_email"]["purpose"] == "Offers by email"
    assert purposes["marketing_email"]["consentType"] == "EXPLICIT"
    assert purposes["marketing_email"]["termination"].startswith("Until withdrawn or until 2028")
    assert purposes["marketing_sms"]["consentState"] == "refused"
    records = {r["eventId"]: r for r in receipt["consentRecords"]}
    assert set(records) == {e.event_id for e in events}
    for event in events:
        assert records[event.event_id]["hash"] == event.hash
        assert records[event.event_id]["noticeDigest"] == event.notice_digest
    assert "Giulia" not in response.text and "x@example.com" not in response.text
    notice = client.get(urlsplit(receipt["policyUrl"]).path + "?lang=en")
    assert notice.status_code == 200 and "<p>Notice 2026-09 en</p>" in notice.text


def test_the_readable_receipt_page(client: TestClient, signer: LinkSigner, seeded: Seeded) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    _decide(client, token, **{"p.marketing_email": "yes"})

    page = client.get(f"/c/{token}/receipt?lang=it")

    assert page.status_code == 200 and page.template.name == "receipt.html"
    receipt = page.context["receipt"]
    assert receipt["consentReceiptID"] in page.text
    assert "Offerte via email" in page.text and "Sì, acconsento" in page.text
    assert f'href="/c/{token}/receipt.json?lang=it" download' in page.text
    again = client.get(f"/c/{token}/receipt.json").json()
    assert again["consentReceiptID"] == receipt["consentReceiptID"]  # stable for one state


def test_without_any_consent_there_is_no_receipt(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)

    page = client.get(f"/c/{token}/receipt?lang=en")
    download = client.get(f"/c/{token}/receipt.json?lang=en")

    assert page.status_code == 200 and "No consent choice is recorded yet." in page.text
    assert download.status_code == 404 and download.context["error"] == "receipt_none"


def test_an_unknown_notice_version_is_a_friendly_404(client: TestClient, seeded: Seeded) -> None:
    response = client.get("/notice/1999-01", headers={"accept-language": "it"})
    assert response.status_code == 404 and "Questo link non è valido" in response.text


def test_the_downloaded_receipt_is_signed_when_a_key_is_configured(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    from consent_portal.app import create_app
    from reconsent.ledger.receipt_signing import new_key, public_key_of, verify_receipt

    key = new_key()
    signed_settings = settings.model_copy(update={"receipt_signing_key": SecretStr(key)})
    app = create_app(signed_settings, clock=clock, engine=engine)
    with TestClient(app, base_url="http://portal.test") as client:
        token = signer.sign(LinkUse.LANDING, seeded.request_id)
        _decide(client, token, **{"p.marketing_email": "yes"})
        receipt = client.get(f"/c/{token}/receipt.json?lang=en").json()
    assert verify_receipt(receipt, public_key_of(key))
