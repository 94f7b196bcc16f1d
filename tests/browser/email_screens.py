"""The re-consent e-mail as a phone (375 px) and a desktop client (600 px) show it.

``open_email`` loads a rendered e-mail into a page of its own (``set_content``;
any request it would make is refused and recorded); ``capture_emails`` saves
one full-page PNG per language and width.  ``tests/browser/test_email_browser.py``
measures the pages and captures into a temporary folder (into ``docs/`` with
``RECONSENT_WRITE_SCREENSHOTS=1``); ``scripts/screenshots.py`` captures into ``docs/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Route

from channels.message_render import render_email
from reconsent.kernel.ports import MessageContext
from tests.support.messages import make_context, message_builder

WIDTHS = (375, 600)
#: Short, so a full-page screenshot ends where the e-mail ends.
HEIGHT = 400
LOCALES = ("it", "en")
EMAIL_SHOTS = tuple(f"email-{locale}-{width}.png" for locale in LOCALES for width in WIDTHS)
#: Where the README's e-mail screenshots live.
DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass
class OpenEmail:
    page: Page
    #: Every URL the e-mail tried to load: an e-mail fetches nothing.
    requests: list[str] = field(default_factory=list)


def email_html(locale: str, context: MessageContext | None = None) -> str:
    """A message to Anna in ``locale``, rendered by the real renderer."""
    build = message_builder()
    return render_email(build(locale=locale, context=context or make_context(locale))).html


@contextmanager
def open_email(browser: Browser, html: str, width: int) -> Iterator[OpenEmail]:
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT}, device_scale_factor=1
    )
    opened = OpenEmail(context.new_page())

    def refuse(route: Route) -> None:
        opened.requests.append(route.request.url)
        route.abort()

    try:
        context.route("**/*", refuse)
        opened.page.set_content(html)
        yield opened
    finally:
        context.close()


def capture_emails(browser: Browser, out: Path) -> list[Path]:
    """Save every screenshot in ``EMAIL_SHOTS`` under ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for locale in LOCALES:
        html = email_html(locale)
        for width in WIDTHS:
            path = out / f"email-{locale}-{width}.png"
            with open_email(browser, html, width) as email:
                email.page.screenshot(path=str(path), full_page=True)
            saved.append(path)
    return saved
