"""Decision posts and SQLite's write lock held by another process (a second worker)."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from starlette.templating import Jinja2Templates

from consent_portal.decision_posts import Post, Recorded, record_posts
from consent_portal.security import CsrfTokens
from consent_portal.state import TEMPLATES_DIR, Portal
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.settings import Settings

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from tests.integration.portal.conftest import Db, Seeded


def _post(client: TestClient, signer: LinkSigner, seeded: Seeded) -> tuple[str, dict[str, str]]:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    page = client.get(f"/c/{token}")
    return token, {
        "nonce": page.context["nonce"],
        "csrf": page.context["csrf"],
        "p.marketing_email": "yes",
    }


def _held_lock(engine: Engine) -> sqlite3.Connection:
    """Another connection (as another process would) holding the write lock."""
    other = sqlite3.connect(str(engine.url.database), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_post_waits_for_the_lock_without_writing_before_it(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, engine: Engine
) -> None:
    token, form = _post(client, signer, seeded)
    other = _held_lock(engine)
    released = threading.Timer(0.3, other.rollback)
    released.start()
    try:
        answered = client.post(f"/c/{token}", data=form)  # polls, then records
    finally:
        released.join()
        other.close()
    assert answered.status_code == 200
    assert [e.state.value for e in db.events()] == ["given"]


def _portal(settings: Settings, clock: FixedClock, engine: Engine) -> Portal:
    keys = settings.link_signing_keys()
    return Portal(
        settings=settings,
        clock=clock,
        engine=engine,
        signer=LinkSigner(keys, clock=clock),
        csrf=CsrfTokens(keys),
        templates=Jinja2Templates(directory=TEMPLATES_DIR),
        address_key=settings.address_key(),
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_waiting_a_held_lock_records_nothing_and_says_so(
    settings: Settings, clock: FixedClock, engine: Engine, seeded: Seeded, db: Db
) -> None:
    portal = _portal(settings, clock, engine)
    token = portal.signer.sign(LinkUse.LANDING, seeded.request_id)
    payload = portal.signer.verify(LinkUse.LANDING, token, None)
    grant, _ = portal.csrf.issue(payload.token_id, "it")
    post = Post(token, payload, grant, {"p.marketing_email": ["no"]}, {"token_id": "t"})
    other = _held_lock(engine)
    try:
        assert record_posts(portal, [post], wait=False) is None
    finally:
        other.rollback()
        other.close()
    assert db.events() == []
    [outcome] = record_posts(portal, [post], wait=False) or []
    assert isinstance(outcome, Recorded) and not outcome.result.replay
    assert [e.state.value for e in db.events()] == ["refused"]
