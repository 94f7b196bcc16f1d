"""The confirmation page offers the receipt: a readable page and Kantara CR 1.1 JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import ConsentEvent, Contact, Purpose
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.settings import Settings

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded

BASE = "http://portal.test"


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
    assert receipt["collectionMethod"] == "consent portal (link in an e-mail)"
    assert receipt["piiControllers"][0]["piiController"] == "Example Contact Centre S.r.l."
    assert receipt["piiControllers"][0]["email"] == "privacy@example.com"
    assert receipt["policyUrl"] == "http://portal.test/notice/2026-09?lang=en"
    assert (receipt["sensitive"], receipt["spiCat"]) == (False, [])
    assert {r["controller"] for r in receipt["consentRecords"]} == {e.controller for e in events}
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


def test_after_a_withdrawal_the_receipt_shows_the_consent_and_the_withdrawal(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    _decide(client, token, **{"p.marketing_email": "yes"})
    _decide(client, token, **{"p.marketing_email": "no"})  # a yes changed to a no

    receipt = client.get(f"/c/{token}/receipt.json?lang=en").json()
    page = client.get(f"/c/{token}/receipt?lang=en")

    [email] = [p for s in receipt["services"] for p in s["purposes"]]
    assert email["consentState"] == "withdrawn"
    assert [h["state"] for h in email["history"]] == ["given", "withdrawn"]
    assert [r["state"] for r in receipt["consentRecords"]] == ["given", "withdrawn"]
    [item] = page.context["items"]
    assert [h["label"] for h in item["history"]] == ["Yes, I agree", "Withdrawn"]
    assert item["label"] == "Withdrawn"
    assert page.text.index("Yes, I agree") < page.text.index("Withdrawn</td>")


def test_the_receipt_names_the_controller_recorded_when_the_settings_changed(
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
    client: TestClient,
    signer: LinkSigner,
    seeded: Seeded,
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    _decide(client, token, **{"p.marketing_email": "yes"})
    recorded = settings.controller_name
    renamed = settings.model_copy(
        update={
            "controller_name": "Renamed Contact Centre S.p.A.",
            "controller_address": "Via Roma 1, 20121 Milano",
            "controller_phone": "+39 02 1234567",
        }
    )
    from consent_portal.app import create_app

    with TestClient(create_app(renamed, clock=clock, engine=engine), base_url=BASE) as later:
        receipt = later.get(f"/c/{token}/receipt.json?lang=en").json()
        page = later.get(f"/c/{token}/receipt?lang=en")

    [controller] = receipt["piiControllers"]
    assert controller["piiController"] == recorded
    assert (controller["address"], controller["phone"]) == (
        "Via Roma 1, 20121 Milano",
        "+39 02 1234567",
    )
    assert "Renamed" not in str(receipt)
    [item] = page.context["items"]
    assert [h["controller"] for h in item["history"]] == [recorded]
    assert f"<dd>{recorded} (privacy@example.com)</dd>" in page.text
    assert "<dd>Via Roma 1, 20121 Milano</dd>" in page.text


def test_the_receipt_states_the_purposes_own_facts(
    client: TestClient, signer: LinkSigner, seeded: Seeded, engine: Engine
) -> None:
    with unit_of_work(engine) as session:
        purpose = session.scalars(select(Purpose).where(Purpose.code == "marketing_email")).one()
        purpose.third_party_sharing = True
        purpose.recipients = ["SendGrid (processor: e-mail delivery)", "Partner S.p.A."]
        purpose.data_categories = ["contact details: e-mail address", "name"]
        purpose.retention = {"refused": 0, "withdrawn": 1, "expired": 6}
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    _decide(client, token, **{"p.marketing_email": "yes"})

    receipt = client.get(f"/c/{token}/receipt.json?lang=en").json()
    page = client.get(f"/c/{token}/receipt?lang=it")

    [email] = [p for s in receipt["services"] for p in s["purposes"]]
    assert email["thirdPartyDisclosure"] is True
    assert email["thirdPartyName"] == "SendGrid (processor: e-mail delivery); Partner S.p.A."
    assert email["piiCategory"] == ["contact details: e-mail address", "name"]
    assert (email["retention"]["withdrawn"], email["lawfulBasis"]) == (1, "consent")
    [item] = page.context["items"]
    assert item["shared"] is True and item["basis"] == "il suo consenso (art. 6(1)(a) GDPR)"
    assert item["retention"] == (
        "Conservati finché il consenso è valido; dopo un rifiuto: non conservati; "
        "dopo una revoca: 1 mese; dopo la scadenza: 6 mesi."
    )
    assert [h["how"] for h in item["history"]] == ["sulla nostra pagina dei consensi (e-mail)"]
    assert "SendGrid (processor: e-mail delivery); Partner S.p.A." in page.text
