"""Reading a one-time code as a person does: in a mail client, once the mail has come.

The portal sends a code after its answer (``consent_portal.code_messages``), so
the mail arrives a moment after the page: :func:`code_in_mail` opens a small
"mail client" page of its own (served from the file outbox by a Playwright
route, refreshing itself like an inbox until the new code e-mail is there) and
reads the six digits it shows, with Playwright's waiting assertions (no sleep).
"""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, Route, expect

from tests.support.codes import code_files, latest_email_html
from tests.support.portal_site import Site

_CODE = re.compile(r"\b(\d{6})\b")
INBOX = "http://mail.test/inbox"
#: An empty inbox checks for new mail again (a mail client's refresh).
_EMPTY = '<!doctype html><meta http-equiv="refresh" content="0.2"><title>Inbox</title><p>No mail'

#: The words of the code steps, per language.
SEND_CODE = {"it": "Inviatemi un codice", "en": "Send me a code"}
CODE_LABEL = {"it": "Codice di sei cifre", "en": "Six-digit code"}
CONTINUE = {"it": "Continua", "en": "Continue"}


def mail_count(site: Site) -> int:
    """How many code e-mails the outbox holds (before asking for one more)."""
    return sum(1 for path in code_files(site.settings.outbox_path) if path.suffix == ".eml")


def code_in_mail(browser: Browser, site: Site, after: int) -> str:
    """The code of the first code e-mail after the ``after`` already there."""
    context = browser.new_context(viewport={"width": 375, "height": 600})
    context.set_default_timeout(10_000)

    def serve(route: Route) -> None:
        if route.request.url != INBOX:
            route.abort()  # an e-mail loads nothing
        elif mail_count(site) > after:
            route.fulfill(
                body=latest_email_html(site.settings.outbox_path), content_type="text/html"
            )
        else:
            route.fulfill(body=_EMPTY, content_type="text/html")

    try:
        context.route("**/*", serve)
        mail = context.new_page()
        mail.goto(INBOX)
        shown = mail.get_by_text(_CODE)
        expect(shown).to_be_visible()
        found = _CODE.search(shown.inner_text())
    finally:
        context.close()
    assert found is not None, "the e-mail shows no code"
    return found.group(1)


def type_code(page: Page, code: str, lang: str) -> None:
    """Type ``code`` on the code page ``page`` shows, and continue."""
    page.get_by_label(CODE_LABEL[lang]).fill(code)
    page.get_by_role("button", name=CONTINUE[lang]).click()


def ask_for_code(browser: Browser, page: Page, site: Site, button: str) -> str:
    """Press ``button`` (the page's "send me a code") and read the code in the mail."""
    before = mail_count(site)
    page.get_by_role("button", name=button).click()
    expect(page.locator("input[autocomplete=one-time-code]")).to_be_visible()
    return code_in_mail(browser, site, before)


def verify_on_rights_page(browser: Browser, page: Page, site: Site, lang: str) -> None:
    """On a link's rights centre: ask for a code, read it in the mail, type it."""
    type_code(page, ask_for_code(browser, page, site, SEND_CODE[lang]), lang)
