"""Browser fixtures: Debian's chromium driven by Playwright, and the real portal.

``make test`` installs chromium (``scripts/ensure-system-packages.sh``); never
``playwright install``.  Without chromium the browser tests are skipped with
that instruction.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.support.portal_site import Site, running_site

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A phone: the portal is designed mobile first.
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: Playwright's sync API keeps an asyncio loop
    running on the main thread while it is started, which later tests that call
    ``asyncio.run`` (the Prefect flows) must not inherit."""
    if shutil.which("chromium") is None:
        pytest.skip("run `make test`: it installs Debian's chromium")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path / "portal.db", tmp_path / "var") as running:
        yield running


@pytest.fixture
def context(browser: Browser, site: Site, tmp_path: Path) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=PHONE, accept_downloads=True, locale="it-IT")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, site: Site) -> Iterator[Page]:
    """A page that fails the test if it ever asks for anything outside the portal."""
    opened = context.new_page()
    outside: list[str] = []
    opened.on(
        "request",
        lambda req: None if req.url.startswith(site.base_url) else outside.append(req.url),
    )
    yield opened
    assert outside == [], f"requests outside the portal: {outside}"
