"""Rate limits per client address and per link (429 + Retry-After), and evidence IPs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from consent_portal.app import create_app
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.settings import Settings
from tests.support.evidence import opened

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


@pytest.fixture
def limited(settings: Settings, clock: FixedClock, engine: Engine) -> Iterator[TestClient]:
    tight = settings.model_copy(update={"portal_rate_per_ip": 4, "portal_rate_per_token": 2})
    with TestClient(create_app(tight, clock=clock, engine=engine)) as client:
        yield client


def test_a_link_over_its_limit_gets_a_friendly_429(
    limited: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    other = signer.sign(LinkUse.LANDING, db.seed("c2").request_id)

    first = [limited.get(f"/c/{token}") for _ in range(2)]
    third = limited.get(f"/c/{token}/rights", headers={"accept-language": "it"})
    another_link = limited.get(f"/c/{other}")

    assert [r.status_code for r in first] == [200, 200]
    assert third.status_code == 429
    assert third.headers["retry-after"] == "30"  # one token per 30 s at 2 per minute
    assert "Troppe richieste" in third.text and third.context["error"] == "rate_limited"
    assert third.headers["content-security-policy"].startswith("default-src 'self'")
    assert "Giulia" not in third.text
    assert another_link.status_code == 200


def test_a_client_address_over_its_limit_gets_429_but_assets_do_not(
    limited: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    tokens = [signer.sign(LinkUse.LANDING, db.seed(f"p{i}").request_id) for i in range(5)]

    pages = [limited.get(f"/c/{t}").status_code for t in tokens]
    css = limited.get("/static/portal.css")
    health = limited.get("/healthz")
    notice = limited.get("/notice/2026-09")

    assert pages == [200, 200, 200, 200, 429]
    assert css.status_code == health.status_code == 200
    assert notice.status_code == 429


def test_posts_count_too_and_record_nothing_when_refused(
    limited: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    page = limited.get(f"/c/{token}")
    form = {"nonce": page.context["nonce"], "csrf": page.context["csrf"]}
    assert limited.post(f"/c/{token}", data={**form, "p.marketing_email": "no"}).status_code == 200

    refused = limited.post(f"/c/{token}", data={**form, "p.marketing_email": "yes"})

    assert refused.status_code == 429
    assert [e.state.value for e in db.events()] == ["refused"]


def test_zero_disables_the_limits(
    settings: Settings, clock: FixedClock, engine: Engine, signer: LinkSigner, seeded: Seeded
) -> None:
    free = settings.model_copy(update={"portal_rate_per_ip": 0, "portal_rate_per_token": 0})
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    with TestClient(create_app(free, clock=clock, engine=engine)) as client:
        codes = {client.get(f"/c/{token}").status_code for _ in range(80)}
    assert codes == {200}


@pytest.mark.parametrize(
    ("truncate", "peer", "stored"),
    [(True, "203.0.113.77", "203.0.113.0"), (False, "203.0.113.77", "203.0.113.77")],
)
def test_evidence_ip_is_truncated_when_configured(
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
    signer: LinkSigner,
    seeded: Seeded,
    db: Db,
    truncate: bool,
    peer: str,
    stored: str,
) -> None:
    configured = settings.model_copy(update={"evidence_ip_truncate": truncate})
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    app = create_app(configured, clock=clock, engine=engine)
    with TestClient(app, client=(peer, 40000)) as client:
        page = client.get(f"/c/{token}")
        form = {"nonce": page.context["nonce"], "csrf": page.context["csrf"]}
        client.post(f"/c/{token}", data={**form, "p.marketing_email": "yes"})
    [event] = db.events()
    assert opened(db.engine, event)["ip"] == stored


def test_unreadable_forms_are_400_and_record_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    page = client.get(f"/c/{token}")
    form = {"nonce": page.context["nonce"], "csrf": page.context["csrf"]}
    urlencoded = {"content-type": "application/x-www-form-urlencoded"}
    too_many = "&".join(f"f{i}=x" for i in range(100))
    assert client.post(f"/c/{token}", content=too_many, headers=urlencoded).status_code == 400
    not_utf8 = b"nonce=%s&p.marketing_email=\xff" % form["nonce"].encode()
    assert client.post(f"/c/{token}", content=not_utf8, headers=urlencoded).status_code == 400
    assert db.events() == []
    # A multipart body goes through Starlette's own parser: a file is refused, fields work.
    with_file = client.post(f"/c/{token}", files={"x": ("x.txt", b"x")}, data=form)
    assert with_file.status_code == 400
    fields = {**form, "p.marketing_email": "yes"}
    boundary = "reconsent-test"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
    answered = client.post(f"/c/{token}", content=body.encode(), headers=multipart)
    assert answered.status_code == 200
    assert [e.state.value for e in db.events()] == ["given"]
