"""The README's screenshots can be taken: every main page renders at phone width."""

from __future__ import annotations

import struct
from pathlib import Path

from playwright.sync_api import Browser

from tests.browser.screens import PHONE, SHOTS, capture
from tests.support.portal_site import Site


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_every_main_page_is_captured_at_phone_width(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    saved = capture(browser, site, tmp_path / "shots")

    assert sorted(p.name for p in saved) == sorted(SHOTS)
    sizes = {path.name: _png_size(path) for path in saved}
    assert sizes["landing-it.png"] == sizes["landing-en.png"] == (PHONE["width"], PHONE["height"])
    assert sizes["choices-en.png"][0] < PHONE["width"]  # the form only, inside the margins
    for name in ("confirmation-it.png", "receipt-it.png", "rights-en.png", "expired-en.png"):
        width, height = sizes[name]
        assert width == PHONE["width"] and height >= PHONE["height"]  # full pages
