"""axe-core (the npm package, pinned in package-lock.json, installed by ``make test``)
injected in Chromium: no violation on any portal page, in Italian and in English, on a
375 px phone and a 1280 px desktop.

The portal's Content-Security-Policy forbids inline scripts, so these contexts bypass
CSP to inject axe (only here: the other browser tests run under the real policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from tests.browser.code_mail import CODE_LABEL, CONTINUE, SEND_CODE, ask_for_code, type_code
from tests.support.portal_site import Site

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
LOCALES = {"giulia": "it", "oliver": "en"}
SHOW_DATA = {"it": "Mostra i miei dati", "en": "Show my data"}
SAVE = {"it": "Salva le mie scelte", "en": "Save my choices"}
YES = {"it": "Sì", "en": "Yes"}


@pytest.fixture
def axe_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make test` (it runs `npm ci`)")
    width: int = request.param
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, object]] = page.evaluate(
        "async () => (await axe.run(document)).violations.map("
        "v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [f"{v['id']}: {v['nodes']}" for v in found]


def _optout(site: Site, who: str) -> str:
    signer = LinkSigner(site.settings.link_signing_keys(), clock=FixedClock(site.clock.now()))
    return f"{site.base_url}/o/{signer.sign(LinkUse.OPTOUT, site.people[who].request_id, 0)}"


@pytest.mark.parametrize("axe_page", [375, 1280], indirect=True, ids=["375px", "1280px"])
@pytest.mark.parametrize("who", sorted(LOCALES))
def test_axe_finds_no_violation_on_any_page(
    axe_page: Page, site: Site, who: str, browser: Browser
) -> None:
    from datetime import timedelta

    lang = LOCALES[who]
    page, link = axe_page, site.link(who)
    found: dict[str, list[str]] = {}

    def check(name: str, url: str | None = None) -> None:
        if url is not None:
            page.goto(url)
        assert page.locator("html").get_attribute("lang") == lang, name
        violations = _violations(page)
        if violations:
            found[name] = violations

    check("home", f"{site.base_url}/?lang={lang}")
    check("privacy home", f"{site.base_url}/privacy?lang={lang}")
    check("landing", link)
    page.get_by_role("radio", name=YES[lang]).first.check()
    page.get_by_role("button", name=SAVE[lang]).click()
    check("confirmation")
    check("receipt", f"{link}/receipt")
    check("rights centre", f"{link}/rights")
    code = ask_for_code(browser, page, site, SEND_CODE[lang])
    check("code entry")
    page.get_by_label(CODE_LABEL[lang]).fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name=CONTINUE[lang]).click()
    check("wrong code")
    type_code(page, code, lang)
    check("rights centre, verified")
    page.get_by_role("button", name=SHOW_DATA[lang]).click()
    check("your data")
    check("preference centre", f"{site.base_url}/me?lang={lang}")
    page.context.clear_cookies()
    check("no session", f"{site.base_url}/me?lang={lang}")
    check("notice", f"{site.base_url}/notice/2026-09?lang={lang}")
    check("opt-out", _optout(site, who))
    check("expired link", site.link(who, age=timedelta(days=15)))
    check("bad link", f"{site.base_url}/c/not-a-token?lang={lang}")

    assert found == {}
