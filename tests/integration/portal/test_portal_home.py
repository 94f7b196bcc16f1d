"""The home page: ``/`` and ``/privacy`` (what the calls and the voicemail name aloud)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.testclient import TestClient

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Seeded


@pytest.mark.parametrize("path", ["/", "/privacy"])
def test_the_home_page_says_who_asks_and_how_to_choose_or_stop(
    client: TestClient, seeded: Seeded, path: str
) -> None:
    italian = client.get(path, headers={"Accept-Language": "it-IT,it;q=0.9"})
    english = client.get(f"{path}?lang=en")

    assert italian.status_code == english.status_code == 200
    assert italian.headers["content-type"].startswith("text/html")
    assert '<html lang="it">' in italian.text and '<html lang="en">' in english.text
    assert "Le sue scelte sulla privacy con Example Contact Centre S.r.l." in italian.text
    assert "Your privacy choices with Example Contact Centre S.r.l." in english.text
    for words in ("fresh one", "STOPALL", "press 9", "Garante"):
        assert words in english.text
    # The latest published notice, in the page's language.
    assert 'href="/notice/2026-09?lang=en"' in english.text
    assert italian.headers["content-security-policy"].startswith("default-src 'self'")
    assert client.get("/notice/2026-09?lang=en").status_code == 200


def test_the_home_page_needs_no_catalog(client: TestClient) -> None:
    answer = client.get("/?lang=en")
    assert answer.status_code == 200 and "/notice/" not in answer.text
