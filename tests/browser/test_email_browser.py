"""The e-mail in Chromium: no sideways scroll at 375 or 600 px, who and why first.

``RECONSENT_WRITE_SCREENSHOTS=1`` also rewrites the README's e-mail screenshots in
``docs/``; without it they go to a temporary folder, so a run never dirties the tree.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from reconsent.kernel.ports import MessageContext
from reconsent.kernel.vocab import RequestBasis
from tests.browser.email_screens import (
    DOCS,
    EMAIL_SHOTS,
    HEIGHT,
    WIDTHS,
    capture_emails,
    email_html,
    open_email,
)
from tests.support.messages import ASKED_FOR, CONTROLLER, make_context

#: The column's side margins at phone width (8 px each side of the 100%-wide column).
GUTTER = 16


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _fits(browser: Browser, html: str, width: int) -> str:
    """Open the e-mail at ``width``, check it fits, return its visible text (whitespace folded)."""
    with open_email(browser, html, width) as email:
        page = email.page
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width == width, "the e-mail scrolls sideways"
        column = page.locator('table[style*="max-width:600px"]').bounding_box()
        assert column is not None and column["width"] <= min(600, width - GUTTER)
        text: str = page.evaluate("document.body.innerText")
        assert email.requests == []  # nothing fetched: no image, no font, no tracker
    return " ".join(text.split())


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
@pytest.mark.parametrize(("locale", "basis"), sorted(ASKED_FOR, key=str))
def test_the_email_fits_and_says_who_and_why_first(
    browser: Browser, locale: str, basis: RequestBasis, width: int
) -> None:
    visible = _fits(browser, email_html(locale, make_context(locale, basis=basis)), width)
    head = visible[:200]
    assert head.startswith(CONTROLLER) and ASKED_FOR[locale, basis] in head, head


@pytest.mark.parametrize("locale", ["it", "en"])
def test_long_names_and_addresses_wrap_instead_of_scrolling(browser: Browser, locale: str) -> None:
    context: MessageContext = make_context(
        locale,
        controller_name="Società Cooperativa Agricola Produttori Ortofrutticoli Riuniti S.c.a.r.l.",
        controller_contact="responsabile.protezione.dati.personali@cooperativa-ortofrutticoli.example",
    )
    visible = _fits(browser, email_html(locale, context), 375)
    assert "responsabile.protezione.dati.personali" in visible


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``docs/`` when asked for, else a temporary folder.  Module-scoped, so it reads the
    variable before the per-test fixture that hides every ``RECONSENT_*`` variable."""
    if os.environ.get("RECONSENT_WRITE_SCREENSHOTS") == "1":
        return DOCS
    return tmp_path_factory.mktemp("email-shots")


def test_the_readme_screenshots_can_be_taken(browser: Browser, shots_dir: Path) -> None:
    saved = capture_emails(browser, shots_dir)

    assert sorted(p.name for p in saved) == sorted(EMAIL_SHOTS)
    for path in saved:
        width, height = _png_size(path)
        assert width == int(path.stem.rsplit("-", 1)[1]) and height > HEIGHT  # the whole e-mail
