"""Screenshots of the portal's main pages at phone width (README ``docs/screenshots/``).

``capture`` drives a real browser through the pages a person sees and saves
one full-page PNG each; ``tests/browser/test_screenshots.py`` runs it into a
temporary folder, ``scripts/screenshots.py`` into ``docs/screenshots``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.support.portal_site import Site

PHONE: ViewportSize = {"width": 390, "height": 844}
SHOTS = (
    "landing-it.png",
    "landing-en.png",
    "choices-en.png",
    "confirmation-it.png",
    "receipt-it.png",
    "rights-en.png",
    "expired-en.png",
)


def _shot(page: Page, out: Path, name: str, *, full_page: bool = True) -> Path:
    path = out / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _new_page(browser: Browser, locale: str) -> Page:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, locale=locale)
    return context.new_page()


def capture(browser: Browser, site: Site, out: Path) -> list[Path]:
    """Save every screenshot in ``SHOTS`` under ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    italian = _new_page(browser, "it-IT")
    try:
        italian.goto(site.link("giulia"))
        expect(italian.locator("html")).to_have_attribute("lang", "it")
        # The notice is long: the landing shots show the first screen, then the choices.
        saved.append(_shot(italian, out, "landing-it.png", full_page=False))
        email = italian.get_by_role("group", name="Offerte e novità via email")
        email.get_by_label("Sì").check()
        italian.get_by_role("group", name="Offerte e novità via SMS").get_by_label("No").check()
        italian.get_by_role("button", name="Salva le mie scelte").click()
        expect(italian.locator("h1")).to_have_text("Grazie: le sue scelte sono state salvate")
        saved.append(_shot(italian, out, "confirmation-it.png"))
        italian.get_by_role("link", name="Vedi la ricevuta del consenso").click()
        expect(italian.locator("h1")).to_have_text("La ricevuta del suo consenso")
        saved.append(_shot(italian, out, "receipt-it.png"))
    finally:
        italian.context.close()
    english = _new_page(browser, "en-GB")
    try:
        english.goto(site.link("oliver"))
        expect(english.locator("html")).to_have_attribute("lang", "en")
        saved.append(_shot(english, out, "landing-en.png", full_page=False))
        choices = out / "choices-en.png"
        english.locator("form.choices").screenshot(path=str(choices))
        saved.append(choices)
        english.get_by_role("link", name="Your data and your rights").click()
        expect(english.locator("h1")).to_have_text("Your data and your rights")
        saved.append(_shot(english, out, "rights-en.png"))
        english.goto(site.link("oliver", age=timedelta(days=15)))
        expect(english.locator("h1")).to_have_text("This link has expired")
        saved.append(_shot(english, out, "expired-en.png"))
    finally:
        english.context.close()
    return saved
