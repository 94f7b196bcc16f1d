"""The favicon: a small SVG of our own, linked from every page, served from /static."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.testclient import TestClient

from reconsent.kernel.links import LinkSigner, LinkUse

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Seeded

LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_every_page_links_the_favicon(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    home = client.get("/?lang=en")
    pages = {
        "home": home,
        "landing": client.get(f"/c/{token}"),
        "rights": client.get(f"/c/{token}/rights"),
        "not found": client.get("/c/not-a-token"),
    }
    assert {name: LINK in page.text for name, page in pages.items()} == dict.fromkeys(pages, True)
    assert home.context["favicon_url"] == "/static/favicon.svg"


def test_the_favicon_is_served_as_svg_with_the_security_headers(client: TestClient) -> None:
    icon = client.get("/static/favicon.svg")

    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.headers["content-security-policy"].startswith("default-src 'self'")
    assert icon.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in icon.headers.get("cache-control", "")
    svg = icon.text
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and len(svg) < 1024
    # Nothing it could run or fetch: no script, no link out but the SVG namespace itself.
    assert "<script" not in svg and "href" not in svg and svg.count("http") == 1
