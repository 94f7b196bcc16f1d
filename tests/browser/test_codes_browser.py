"""One-time codes and the preference centre in a real browser (Debian's chromium).

A forwarded link alone cannot see, download or erase the data: the person reads
the code in their mail and types it; three wrong codes lock. From the home page,
without any link, a person asks for a code, types it and changes their choices
in the standing preference centre. No sleeps: Playwright's assertions wait.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from models import ConsentEvent, Contact, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.vocab import CollectionMethod, ConsentState, RightsKind
from tests.browser.code_mail import (
    CODE_LABEL,
    SEND_CODE,
    ask_for_code,
    type_code,
    verify_on_rights_page,
)
from tests.browser.conftest import PHONE
from tests.support.evidence import opened
from tests.support.portal_site import Site


def _other_browser(browser: Browser) -> BrowserContext:
    """Somebody else's browser: the link was forwarded to them (no cookie of the person)."""
    ctx = browser.new_context(viewport=PHONE, accept_downloads=True, locale="it-IT")
    ctx.set_default_timeout(10_000)
    return ctx


def test_a_forwarded_link_alone_cannot_see_download_or_erase(
    page: Page, site: Site, browser: Browser
) -> None:
    rights = site.link("giulia") + "/rights"
    forwarded = _other_browser(browser)
    stranger = forwarded.new_page()
    try:
        stranger.goto(rights)
        expect(stranger.locator("h1")).to_have_text("I suoi dati e i suoi diritti")
        for name in ("Mostra i miei dati", "Scarica (JSON)", "Cancella i miei dati"):
            expect(stranger.get_by_role("button", name=name)).to_have_count(0)
        expect(stranger.get_by_role("button", name=SEND_CODE["it"])).to_be_visible()

        # The person reads the code in their own mailbox and types it in their browser.
        page.goto(rights)
        verify_on_rights_page(browser, page, site, "it")
        expect(page.get_by_role("button", name="Mostra i miei dati")).to_be_visible()
        json_form = page.locator("form", has=page.get_by_role("button", name="Scarica (JSON)"))
        copied: dict[str, str | float | bool] = {
            name: json_form.locator(f'input[name="{name}"]').get_attribute("value") or ""
            for name in ("nonce", "csrf")
        }
        action = json_form.get_attribute("action") or ""

        # The stranger, even with the person's own form fields, still gets nothing.
        stranger.reload()
        expect(stranger.get_by_role("button", name="Mostra i miei dati")).to_have_count(0)
        refused = stranger.request.post(site.base_url + action, form=copied)
        assert refused.status == 403 and "giulia@example.com" not in refused.text()
    finally:
        forwarded.close()

    with page.expect_download() as as_json:
        page.get_by_role("button", name="Scarica (JSON)").click()
    exported = json.loads(Path(as_json.value.path()).read_text(encoding="utf-8"))
    assert exported["contact"]["email"] == "giulia@example.com"
    page.get_by_label("Ho capito: l'operazione è definitiva").check()
    page.get_by_role("button", name="Cancella i miei dati").click()
    expect(page.locator("h1")).to_have_text("I suoi dati sono cancellati")
    with unit_of_work(site.engine) as session:
        kinds = session.scalars(select(RightsRequest.kind).order_by(RightsRequest.id)).all()
        giulia = session.get_one(Contact, site.people["giulia"].contact_id)
    assert kinds == [RightsKind.PORTABILITY, RightsKind.ERASURE]  # only the person's
    assert giulia.erased_at is not None


def test_three_wrong_codes_lock_for_a_while(page: Page, site: Site, browser: Browser) -> None:
    page.goto(site.link("oliver") + "/rights")
    right = ask_for_code(browser, page, site, SEND_CODE["en"])
    wrong = "000000" if right != "000000" else "111111"

    for left in ("2", "1"):
        type_code(page, wrong, "en")
        expect(page.get_by_role("alert")).to_have_text(
            f"That code is not right. Tries left: {left}."
        )
    type_code(page, wrong, "en")
    expect(page.locator("h1")).to_have_text("Too many wrong codes")
    expect(page.get_by_label(CODE_LABEL["en"])).to_have_count(0)  # no form to try again

    site.clock.advance(timedelta(minutes=site.settings.portal_code_lock_minutes))
    page.goto(site.link("oliver") + "/rights")
    verify_on_rights_page(browser, page, site, "en")
    expect(page.get_by_role("button", name="Show my data")).to_be_visible()


def test_the_preference_centre_from_the_home_page(page: Page, site: Site, browser: Browser) -> None:
    page.goto(site.base_url + "/?lang=it")
    page.get_by_label("Indirizzo email o numero di cellulare").fill("nessuno@example.com")
    page.get_by_role("button", name=SEND_CODE["it"]).click()
    expect(page.locator("h1")).to_have_text("Inserisca il codice")  # the same for nobody
    unknown_page = page.locator("main").inner_text()

    page.goto(site.base_url + "/?lang=it")
    page.get_by_label("Indirizzo email o numero di cellulare").fill("Giulia@Example.com")
    code = ask_for_code(browser, page, site, SEND_CODE["it"])
    expect(page.locator("h1")).to_have_text("Inserisca il codice")
    assert page.locator("main").inner_text() == unknown_page
    expect(page.get_by_label(CODE_LABEL["it"])).to_have_attribute("autocomplete", "one-time-code")
    type_code(page, code, "it")

    expect(page.locator("h1")).to_have_text("Le sue scelte sulla privacy")
    assert page.url == f"{site.base_url}/me?lang=it"
    email = page.get_by_role("group", name="Offerte e novità via email")
    expect(email.get_by_label("Sì")).not_to_be_checked()
    email.get_by_label("Sì").check()
    page.get_by_role("group", name="Offerte e novità via SMS").get_by_label("No").check()
    page.get_by_role("button", name="Salva le mie scelte").click()
    expect(page.locator("h1")).to_have_text("Scelte salvate")

    page.get_by_role("link", name="Torna alle sue scelte").click()
    expect(email.get_by_label("Sì")).to_be_checked()
    expect(page.locator("#pstate-1")).to_have_text("Ora: Sì, acconsento")
    with unit_of_work(site.engine) as session:
        events = list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))
    assert [(e.purpose_id is not None, e.state, e.method) for e in events] == [
        (True, ConsentState.GIVEN, CollectionMethod.PORTAL),
        (True, ConsentState.REFUSED, CollectionMethod.PORTAL),
    ]
    assert {e.source for e in events} == {"portal:preference_centre"}
    assert "user_agent" not in events[0].evidence  # sealed at rest, per person
    evidence = opened(site.engine, events[0], "browser-evidence-key")
    assert "HeadlessChrome" in evidence["user_agent"]
    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = cookies["reconsent_session"]
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
