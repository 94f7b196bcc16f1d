"""One-click withdrawal: GET changes nothing, POST (a person or RFC 8058) withdraws."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from starlette.testclient import TestClient

from models import Contact, Purpose
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
from tests.support import factories

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _give(db: Db, seeded: Seeded, code: str) -> None:
    with unit_of_work(db.engine) as session:
        contact = session.get(Contact, seeded.contact_id)
        purpose = session.scalars(select(Purpose).where(Purpose.code == code)).one()
        assert contact is not None
        now = db.clock.now() - timedelta(days=30)
        factories.record(session, now, contact, purpose, ConsentState.GIVEN, now)


def test_get_shows_one_button_and_changes_nothing(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _give(db, seeded, "profiling")
    token = signer.sign(LinkUse.OPTOUT, seeded.request_id)

    response = client.get(f"/o/{token}")

    assert response.status_code == 200
    assert response.template.name == "optout.html"
    assert response.context["done"] is False
    assert response.text.count("<button") == 1 and 'method="post"' in response.text
    assert "Giulia" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert len(db.events()) == 1 and db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE


def test_post_withdraws_what_was_given_and_suppresses_every_channel(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    _give(db, seeded, "profiling")
    token = signer.sign(LinkUse.OPTOUT, seeded.request_id, 1)

    response = client.post(f"/o/{token}", data={"confirm": "1"})

    assert response.status_code == 200
    assert response.context["done"] is True
    assert "Non la contatteremo più" in response.text
    withdrawn = db.events()[1:]
    assert [(e.state, e.method, e.channel, e.actor) for e in withdrawn] == [
        (ConsentState.WITHDRAWN, CollectionMethod.PORTAL, Channel.SMS, "subject")
    ]
    assert withdrawn[0].evidence["path"] == f"/o/{token_id(token)}"
    assert withdrawn[0].evidence["one_click"] is False
    [suppression] = [s for s in db.suppressions() if s.address_hash is None]
    assert (suppression.contact_id, suppression.channel, suppression.address_hash) == (
        seeded.contact_id,
        None,
        None,
    )
    assert (suppression.reason, suppression.source) == (SuppressionReason.UNSUBSCRIBE, "portal")
    # and each of the person's addresses, on the channels that use it (a re-import under
    # another CRM id is never asked again)
    by_address = {(s.channel, s.reason) for s in db.suppressions() if s.address_hash}
    assert by_address == {(channel, SuppressionReason.UNSUBSCRIBE) for channel in Channel}
    request = db.request(seeded.request_id)
    assert (request.status, request.close_reason) == (RequestStatus.REFUSED, "unsubscribe")
    assert request.closed_at == clock.now()


def test_rfc8058_one_click_post_answers_an_empty_200_once(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _give(db, seeded, "marketing_email")
    token = signer.sign(LinkUse.OPTOUT, seeded.request_id, 0)

    first = client.post(f"/o/{token}", data={"List-Unsubscribe": "One-Click"})
    second = client.post(f"/o/{token}", data={"List-Unsubscribe": "One-Click"})

    assert (first.status_code, first.text, second.status_code) == (200, "", 200)
    states = [(e.state, e.method) for e in db.events()]
    assert states == [
        (ConsentState.GIVEN, CollectionMethod.IMPORTED),
        (ConsentState.WITHDRAWN, CollectionMethod.EMAIL),
    ]
    [suppression] = [s for s in db.suppressions() if s.address_hash is None]
    assert suppression.source == "email"


def test_an_opt_out_link_keeps_working_after_the_landing_lifetime(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.OPTOUT, seeded.request_id)
    clock.advance(timedelta(days=60))

    response = client.post(f"/o/{token}", data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert {s.reason for s in db.suppressions()} == {SuppressionReason.UNSUBSCRIBE}


def test_a_landing_or_tampered_token_cannot_opt_anybody_out(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    landing = signer.sign(LinkUse.LANDING, seeded.request_id)
    tampered = signer.sign(LinkUse.OPTOUT, seeded.request_id)[:-2] + "zz"

    for token in (landing, tampered):
        response = client.post(f"/o/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
    assert db.suppressions() == []
    assert db.request(seeded.request_id).status is RequestStatus.ACTIVE
