"""The landing page and the decision it posts, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from consent_portal.app import app_from_env, create_app
from models import ConsentStatus, Notice
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse, token_id
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.settings import Settings
from tests.support.evidence import opened

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _form(client: TestClient, token: str, lang: str | None = None) -> dict[str, str]:
    page = client.get(f"/c/{token}" + (f"?lang={lang}" if lang else ""))
    assert page.status_code == 200
    return {"nonce": page.context["nonce"], "csrf": page.context["csrf"]}


def test_landing_shows_every_purpose_with_nothing_preselected(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id, 0)
    response = client.get(f"/c/{token}")

    assert response.status_code == 200
    assert response.template.name == "landing.html"
    context = response.context
    assert context["locale"] == "it"
    assert [p.code for p in context["purposes"]] == list(seeded.purposes)
    assert [p.title for p in context["purposes"]] == [
        "Offerte via email",
        "Offerte via SMS",
        "Offerte per telefono",
    ]
    assert context["notice"]["version"] == "2026-09"
    assert context["greeting"] == "Gentile Giulia,"
    html = response.text
    assert '<html lang="it">' in html
    assert "<p>Notice 2026-09 it</p>" in html  # the catalog's HTML, not escaped
    assert "2026-09" in html and "Example Contact Centre S.r.l." in html
    assert "checked" not in html
    radios = re.findall(
        r'<input type="radio" id="([^"]+)" name="p\.([a-z_]+)" value="(yes|no)"', html
    )
    assert len(radios) == 2 * len(seeded.purposes)
    assert {code for _, code, _ in radios} == set(seeded.purposes)
    for input_id, _, _ in radios:
        assert f'<label for="{input_id}">' in html
    assert html.count("<button") == 2
    assert "Salva le mie scelte" in html and "Rifiuta tutto" in html
    assert "x@example.com" not in html and "+39333" not in html
    # The token appears only in the link to its own rights centre (same path, never elsewhere).
    assert html.count(token) == 1 and f'href="/c/{token}/rights?lang=it"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert 'href="/static/portal.css"' in html
    assert response.headers["cache-control"] == "no-store"


def test_language_switch_renders_the_english_notice_and_purposes(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    italian = client.get(f"/c/{token}")
    assert 'href="?lang=en"' in italian.text

    response = client.get(f"/c/{token}?lang=en")

    assert response.context["locale"] == "en"
    assert response.context["notice"]["locale"] == "en"
    assert '<html lang="en">' in response.text
    assert "<p>Notice 2026-09 en</p>" in response.text
    assert "Offers by email" in response.text and "Save my choices" in response.text
    assert 'href="?lang=it"' in response.text


def test_posting_without_a_choice_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    form = _form(client, token, lang="en")

    response = client.post(f"/c/{token}", data={**form, "action": "save", "p.other": "yes"})

    assert response.status_code == 400
    assert response.template.name == "error.html"
    assert response.context["error"] == "no_choice"
    assert (
        "Please choose Yes or No for at least one purpose. Nothing was recorded." in response.text
    )
    assert db.events() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_save_records_each_choice_with_evidence_and_closes_the_request(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id, 0)
    form = _form(client, token)

    response = client.post(
        f"/c/{token}",
        data={**form, "action": "save", "p.marketing_email": "yes", "p.marketing_sms": "no"},
        headers={"user-agent": "TestBrowser/1.0"},
    )

    assert response.status_code == 200
    assert response.template.name == "done.html"
    result = response.context["result"]
    assert result.replay is False
    assert result.states == {
        "marketing_email": ConsentState.GIVEN,
        "marketing_sms": ConsentState.REFUSED,
    }
    assert "Sì, acconsento" in response.text and "No, non acconsento" in response.text
    assert "2026-09" in response.text and "2026-12-01 10:00" in response.text
    events = db.events()
    assert [(e.state, e.method, e.channel, e.actor) for e in events] == [
        (ConsentState.GIVEN, CollectionMethod.PORTAL, Channel.EMAIL, "subject"),
        (ConsentState.REFUSED, CollectionMethod.PORTAL, Channel.EMAIL, "subject"),
    ]
    with unit_of_work(db.engine) as session:
        notice = session.scalars(
            select(Notice).where(Notice.version == "2026-09", Notice.locale == "it")
        ).one()
    for event in events:
        assert (event.notice_id, event.notice_version, event.notice_digest) == (
            notice.id,
            "2026-09",
            notice.digest,
        )
        assert event.language == "it" and event.request_id == seeded.request_id
        assert event.wave_id == seeded.wave_id and event.dedupe_key is not None
        assert "ip" not in event.evidence and "sealed" in event.evidence  # sealed at rest
        assert opened(db.engine, event) == {
            "token_id": token_id(token),
            "ip": "testclient",
            "user_agent": "TestBrowser/1.0",
            "path": f"/c/{token_id(token)}",
            "form_nonce": form["nonce"],
            "action": "save",
        }
        assert token not in str(event.evidence)
    request = db.request(seeded.request_id)
    assert request.status is RequestStatus.CONFIRMED
    assert (request.answered_channel, request.close_reason) == (Channel.EMAIL, "answered")
    assert request.closed_at == clock.now()


def test_refuse_all_refuses_every_purpose(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id, 1)
    form = _form(client, token)

    response = client.post(
        f"/c/{token}", data={**form, "action": "refuse_all", "p.marketing_email": "yes"}
    )

    assert response.status_code == 200
    assert [(e.state, e.channel) for e in db.events()] == [
        (ConsentState.REFUSED, Channel.SMS),
        (ConsentState.REFUSED, Channel.SMS),
        (ConsentState.REFUSED, Channel.SMS),
    ]
    assert db.request(seeded.request_id).status is RequestStatus.REFUSED
    # A no to everything: the person's addresses are not asked again under any CRM id.
    assert {(s.reason, s.channel, s.contact_id) for s in db.suppressions()} == {
        (SuppressionReason.REFUSED_ALL, channel, seeded.contact_id) for channel in Channel
    }
    assert all(s.address_hash for s in db.suppressions())


def test_refusing_some_purposes_suppresses_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    form = {**_form(client, token), "p.marketing_email": "yes", "p.marketing_sms": "no"}
    assert client.post(f"/c/{token}", data=form).status_code == 200
    assert [e.state for e in db.events()] == [ConsentState.GIVEN, ConsentState.REFUSED]
    assert db.suppressions() == []


def test_the_same_form_posted_twice_records_one_decision(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    data = {**_form(client, token), "action": "save", "p.marketing_email": "yes"}

    first = client.post(f"/c/{token}", data=data)
    second = client.post(f"/c/{token}", data={**data, "p.marketing_email": "no"})

    assert first.status_code == second.status_code == 200
    assert second.context["result"].replay is True
    assert second.context["result"].states == {"marketing_email": ConsentState.GIVEN}
    assert "Questo modulo era già stato inviato" in second.text
    assert [e.state for e in db.events()] == [ConsentState.GIVEN]


def test_a_later_decision_is_a_new_event_and_wins(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    client.post(f"/c/{token}", data={**_form(client, token), "p.marketing_email": "yes"})
    closed_at = db.request(seeded.request_id).closed_at
    clock.advance(timedelta(days=2))

    response = client.post(f"/c/{token}", data={**_form(client, token), "p.marketing_email": "no"})

    assert response.status_code == 200
    # Changing a yes to a no is a withdrawal (art. 7(3)), not a refusal.
    assert [e.state for e in db.events()] == [ConsentState.GIVEN, ConsentState.WITHDRAWN]
    request = db.request(seeded.request_id)
    assert (request.status, request.closed_at) == (RequestStatus.CONFIRMED, closed_at)
    with unit_of_work(db.engine) as session:
        assert session.scalars(select(ConsentStatus.state)).all() == [ConsentState.WITHDRAWN]


def test_a_tampered_link_is_a_friendly_400_that_names_nobody(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    tampered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")

    page = client.get(f"/c/{tampered}", headers={"accept-language": "it-IT,it;q=0.9"})
    post = client.post(f"/c/{tampered}", data={"p.marketing_email": "yes"})
    optout_token = signer.sign(LinkUse.OPTOUT, seeded.request_id)
    wrong_use = client.get(f"/c/{optout_token}")

    assert page.status_code == post.status_code == wrong_use.status_code == 400
    assert page.template.name == "error.html" and page.context["error"] == "bad_link"
    assert "Questo link non è valido" in page.text
    assert "Giulia" not in page.text and "Giulia" not in post.text
    assert db.events() == []


def test_an_expired_link_is_410_and_records_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    form = _form(client, token, lang="en")
    clock.advance(timedelta(days=14, seconds=1))

    page = client.get(f"/c/{token}?lang=en")
    post = client.post(f"/c/{token}", data={**form, "p.marketing_email": "yes"})

    assert page.status_code == post.status_code == 410
    assert page.context["error"] == "expired"
    assert "ask for a fresh one" in page.text and "privacy@example.com" in page.text
    assert "Giulia" not in page.text
    assert db.events() == []


def test_a_form_not_issued_for_this_link_is_refused_with_403(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    other = db.seed("c2")
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    other_form = _form(client, signer.sign(LinkUse.LANDING, other.request_id))
    own_form = _form(client, token)

    foreign = client.post(f"/c/{token}", data={**other_form, "p.marketing_email": "yes"})
    forged_nonce = client.post(
        f"/c/{token}", data={**own_form, "nonce": "chosen-by-me", "p.marketing_email": "yes"}
    )
    missing = client.post(f"/c/{token}", data={"p.marketing_email": "yes"})

    for response in (foreign, forged_nonce, missing):
        assert response.status_code == 403
        assert response.context["error"] == "forbidden"
    assert db.events() == []


def test_security_headers_on_every_response(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    for response in (
        client.get(f"/c/{token}"),
        client.get("/static/portal.css"),
        client.get("/nope"),
    ):
        headers = response.headers
        assert headers["content-security-policy"] == (
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers
    css = client.get("/static/portal.css")
    assert css.status_code == 200 and ":focus-visible" in css.text
    assert "no-store" not in css.headers.get("cache-control", "")


def test_security_headers_on_413_and_500_too(
    settings: Settings, clock: FixedClock, engine: Engine
) -> None:
    """Starlette answers these outside the user middleware (its body limit, its server
    error layer): the headers must wrap them as well."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    app = create_app(settings, clock=clock, engine=engine)
    app.router.routes.append(Route("/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        too_big = client.post("/c/anything", content=b"x" * (2 * 1024 * 1024))
        broken = client.get("/boom")
    assert (too_big.status_code, broken.status_code) == (413, 500)
    for response in (too_big, broken):
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "a bug" not in response.text


def test_hsts_only_when_the_portal_is_served_over_https(
    settings: Settings, clock: FixedClock, engine: Engine
) -> None:
    secure = settings.model_copy(update={"portal_base_url": "https://portal.example"})
    with TestClient(create_app(secure, clock=clock, engine=engine)) as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_healthz_answers_ok_after_querying_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_without_an_engine_the_app_builds_one_from_settings(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_app_from_env_reads_the_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("RECONSENT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECONSENT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RECONSENT_PORTAL_BASE_URL", "https://consent.example")
    monkeypatch.setenv("RECONSENT_SIGNING_KEYS", "env-key")
    monkeypatch.setenv("RECONSENT_ADDRESS_HASH_KEY", "test-address-key")
    monkeypatch.setenv("RECONSENT_EVIDENCE_KEY", "test-evidence-key")
    with TestClient(app_from_env()) as client:
        response = client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert "strict-transport-security" in response.headers
