"""Take the README's screenshots: the consent portal (phone width) into docs/screenshots/,
the re-consent e-mail (375 and 600 px, it and en) into docs/.

    .venv/bin/python scripts/screenshots.py

Serves the real portal on a seeded SQLite database (tests/support/portal_site.py)
and drives Debian's chromium with Playwright (`make test` installs chromium).
``RECONSENT_WRITE_SCREENSHOTS=1`` on the browser tests rewrites the e-mail ones too.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS
    from tests.browser.email_screens import DOCS, capture_emails
    from tests.browser.screens import capture
    from tests.support.portal_site import running_site

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium not found: run `make test` (it installs Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="reconsent-shots-") as work:
        folder = Path(work)
        with (
            running_site(folder / "portal.db", folder / "var") as site,
            sync_playwright() as driver,
        ):
            browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                saved = capture(browser, site, OUT) + capture_emails(browser, DOCS)
            finally:
                browser.close()
    for path in saved:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
