"""The consent portal in a real browser (Debian's chromium driven by Playwright).

A person opens the signed link, chooses, saves, reads the confirmation and
downloads the receipt; switches language; meets expired and tampered links;
does it all with the keyboard; and uses the rights centre.  No sleeps:
Playwright's assertions wait for their condition.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from models import ConsentEvent, Contact, RightsRequest, Suppression
from reconsent.db import unit_of_work
from reconsent.kernel.vocab import ConsentState, RightsKind, SuppressionReason
from tests.browser.code_mail import verify_on_rights_page
from tests.support.evidence import opened
from tests.support.portal_site import Site


def _events(site: Site) -> list[ConsentEvent]:
    with unit_of_work(site.engine) as session:
        return list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def test_decide_confirm_and_download_the_receipt(page: Page, site: Site) -> None:
    response = page.goto(site.link("giulia"))

    assert response is not None and response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "it")
    radios = page.locator('input[type="radio"]')
    expect(radios).to_have_count(6)
    for index in range(6):
        expect(radios.nth(index)).not_to_be_checked()  # nothing pre-selected
    email = page.get_by_role("group", name="Offerte e novità via email")
    email.get_by_label("Sì").check()
    email.get_by_label("No").check()  # a change of mind before saving
    email.get_by_label("Sì").check()
    page.get_by_role("group", name="Offerte e novità via SMS").get_by_label("No").check()
    page.get_by_role("button", name="Salva le mie scelte").click()

    expect(page.locator("h1")).to_have_text("Grazie: le sue scelte sono state salvate")
    expect(page.locator("dl.recorded dt")).to_have_text(
        ["Offerte e novità via email", "Offerte e novità via SMS"]
    )
    expect(page.locator("dl.recorded dd")).to_have_text(["Sì, acconsento", "No, non acconsento"])
    with page.expect_download() as download:
        page.get_by_role("link", name="Scarica la ricevuta (JSON)").click()
    receipt = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert download.value.suggested_filename.startswith("consent-receipt-")
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == site.people["giulia"].subject_id
    states = {
        p["purposeCode"]: p["consentState"] for s in receipt["services"] for p in s["purposes"]
    }
    assert states == {"marketing_email": "given", "marketing_sms": "refused"}
    events = _events(site)
    assert [e.state for e in events] == [ConsentState.GIVEN, ConsentState.REFUSED]
    assert {r["hash"] for r in receipt["consentRecords"]} == {e.hash for e in events}
    evidence = opened(site.engine, events[0], "browser-evidence-key")  # sealed at rest
    assert "HeadlessChrome" in evidence["user_agent"] and "ip" not in events[0].evidence
    assert evidence["ip"] == "127.0.0.1"

    page.get_by_role("link", name="Vedi la ricevuta del consenso").click()
    expect(page.locator("h1")).to_have_text("La ricevuta del suo consenso")
    expect(page.locator("dd.code").first).to_have_text(receipt["consentReceiptID"])


def test_language_switch(page: Page, site: Site) -> None:
    page.goto(site.link("giulia"))
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.locator("#notice-title")).to_have_text(
        "Informativa sul trattamento dei dati per finalità di marketing"
    )

    page.get_by_role("link", name="Read in English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#notice-title")).to_have_text(
        "Privacy notice: how we use your data for marketing"
    )
    page.get_by_role("group", name="Offers and news by email").get_by_label("Yes").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.locator("h1")).to_have_text("Thank you: your choices are saved")
    [event] = _events(site)
    assert event.language == "en"  # the notice actually shown is the one recorded

    page.goto(site.link("giulia") + "?lang=en")
    page.get_by_role("link", name="Leggi in italiano").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    page.goto(site.link("oliver"))  # an English contact reads English first
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_expired_and_tampered_links(page: Page, site: Site) -> None:
    expired = page.goto(site.link("giulia", age=timedelta(days=15)))

    assert expired is not None and expired.status == 410
    expect(page.locator("h1")).to_have_text("Questo link è scaduto")
    expect(page.locator("body")).not_to_contain_text("Giulia")
    page.get_by_role("button", name="Inviatemi un nuovo link").click()
    expect(page.locator("h1")).to_have_text("Un nuovo link è in arrivo")
    with unit_of_work(site.engine) as session:
        kinds = session.scalars(select(RightsRequest.kind)).all()
    assert kinds == [RightsKind.LINK_RENEWAL]

    link = site.link("giulia")
    tampered = page.goto(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert tampered is not None and tampered.status == 400
    expect(page.locator("h1")).to_have_text("Questo link non è valido")
    expect(page.locator("body")).not_to_contain_text("Giulia")
    assert _events(site) == []


def _tab_to(page: Page, selector: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector} has no visible focus"
            return
    pytest.fail(f"Tab never reached {selector}")


def test_keyboard_only_completion(page: Page, site: Site) -> None:
    page.goto(site.link("oliver"))

    _tab_to(page, "a.skip")
    expect(page.locator("a.skip")).to_be_in_viewport()  # the skip link shows when focused
    _tab_to(page, 'input[name="p.marketing_email"]')
    page.keyboard.press("Space")
    _tab_to(page, 'input[name="p.marketing_sms"]')
    page.keyboard.press("ArrowRight")  # moves within the Yes/No pair and selects "No"
    _tab_to(page, 'button[value="save"]')
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Thank you: your choices are saved")
    assert [(e.state, e.evidence["action"]) for e in _events(site)] == [
        (ConsentState.GIVEN, "save"),
        (ConsentState.REFUSED, "save"),
    ]


def test_the_rights_centre(page: Page, site: Site, browser: Browser) -> None:
    page.goto(site.link("giulia"))
    page.get_by_role("link", name="I suoi dati e i suoi diritti").click()
    expect(page.locator("h1")).to_have_text("I suoi dati e i suoi diritti")
    expect(page.get_by_role("button", name="Mostra i miei dati")).to_have_count(0)
    verify_on_rights_page(browser, page, site, "it")  # the one-time code, read in the mail
    expect(page.locator("h1")).to_have_text("I suoi dati e i suoi diritti")

    page.get_by_role("button", name="Mostra i miei dati").click()
    expect(page.locator("h1")).to_have_text("I suoi dati")
    expect(page.locator("dl.recorded")).to_contain_text("giulia@example.com")
    with page.expect_download() as as_json:
        page.get_by_role("button", name="Scarica (JSON)").click()
    with page.expect_download() as as_csv:
        page.get_by_role("button", name="Scarica (CSV)").click()
    exported = json.loads(Path(as_json.value.path()).read_text(encoding="utf-8"))
    assert exported["contact"]["email"] == "giulia@example.com"
    rows = list(csv.reader(io.StringIO(Path(as_csv.value.path()).read_text("utf-8-sig"))))
    assert ["contact", "1", "email", "giulia@example.com"] in rows

    page.get_by_role("link", name="Torna ai suoi diritti").click()
    page.get_by_role("button", name="Basta comunicazioni commerciali").click()
    expect(page.locator("h1")).to_have_text("Non riceverà più comunicazioni commerciali")
    with unit_of_work(site.engine) as session:
        reasons = session.scalars(select(Suppression.reason)).all()
    # the contact on every channel, and each of their addresses on the channels it serves
    assert reasons == [SuppressionReason.OBJECTION] * 4

    page.get_by_role("link", name="Torna ai suoi diritti").click()
    rights_url = page.url
    page.get_by_role("button", name="Cancella i miei dati").click()  # box not ticked
    assert page.url == rights_url
    assert page.eval_on_selector("#erase-confirm", "el => el.validity.valueMissing")
    page.get_by_label("Ho capito: l'operazione è definitiva").check()
    page.get_by_role("button", name="Cancella i miei dati").click()
    expect(page.locator("h1")).to_have_text("I suoi dati sono cancellati")

    with unit_of_work(site.engine) as session:
        giulia = session.get(Contact, site.people["giulia"].contact_id)
        kinds = session.scalars(select(RightsRequest.kind).order_by(RightsRequest.id)).all()
    assert giulia is not None and giulia.erased_at is not None
    assert (giulia.given_name, giulia.email, giulia.phone) == (None, None, None)
    assert kinds == [
        RightsKind.ACCESS,
        RightsKind.PORTABILITY,
        RightsKind.PORTABILITY,
        RightsKind.OBJECTION,
        RightsKind.ERASURE,
    ]
    dead = page.goto(site.link("giulia"))
    assert dead is not None and dead.status == 400


@pytest.mark.parametrize("path", ["", "/rights", "/receipt"])
def test_pages_are_accessible_basics_at_phone_width(page: Page, site: Site, path: str) -> None:
    page.goto(site.link("oliver") + path)

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("script")).to_have_count(0)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), textarea')]
              .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)"""
    )
    assert unlabelled == []
    expect(page.locator("main#main > h1").first).to_be_visible()  # the page's own heading
    assert page.locator("main#main").count() == 1
