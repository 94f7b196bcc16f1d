"""Behind a proxy, or not: which X-Forwarded-For the portal believes (issue 17).

The real portal under uvicorn with the options ``reconsent portal`` passes it
(:func:`consent_portal.security.proxy_options`). uvicorn's own default believes
the header from 127.0.0.1, so a client on the host could pick a new address
(a new rate-limit bucket) per request; ours believes nobody unless named.
"""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from consent_portal.app import create_app
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.clock import FixedClock
from reconsent.settings import Settings
from reconsent.web_security import proxy_options

LIMIT = 5


def _statuses(base: str, forwarded: list[str]) -> list[int]:
    """429, or 0 for any other answer (an unknown notice: a page people open, limited
    per client address)."""
    with httpx.Client(base_url=base) as client:
        answers = [
            client.get("/notice/none", headers={"X-Forwarded-For": address}).status_code
            for address in forwarded
        ]
    return [a if a == 429 else 0 for a in answers]


def test_by_default_no_proxy_is_believed(
    settings: Settings, clock: FixedClock, engine: Engine
) -> None:
    limited = settings.model_copy(update={"portal_rate_per_ip": LIMIT})
    app = create_app(limited, clock=clock, engine=engine)
    with running_server(app, **proxy_options(limited.portal_forwarded_allow_ips)) as base:
        own = _statuses(base, ["127.0.0.1"] * LIMIT)
        spoofed = _statuses(base, [f"198.51.100.{n}" for n in range(1, 51)])
    assert own == [0] * LIMIT
    assert spoofed == [429] * 50  # 50 made-up addresses: still the one client it is


def test_a_named_proxy_gives_each_real_client_its_own_bucket(
    settings: Settings, clock: FixedClock, engine: Engine
) -> None:
    behind = settings.model_copy(
        update={"portal_rate_per_ip": LIMIT, "portal_forwarded_allow_ips": "127.0.0.1"}
    )
    app = create_app(behind, clock=clock, engine=engine)
    with running_server(app, **proxy_options(behind.portal_forwarded_allow_ips)) as base:
        many = _statuses(base, [f"198.51.100.{n}" for n in range(1, 21)])
        one = _statuses(base, ["203.0.113.7"] * (LIMIT + 3))
    assert many == [0] * 20  # twenty visitors through one proxy: twenty buckets
    assert one == [0] * LIMIT + [429] * 3  # one visitor: limited as one


def test_proxy_options_trust_only_what_is_named() -> None:
    assert proxy_options("") == {"proxy_headers": False, "forwarded_allow_ips": ""}
    assert proxy_options(" 10.0.0.1 , 10.0.1.0/24 ") == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.1,10.0.1.0/24",
    }
