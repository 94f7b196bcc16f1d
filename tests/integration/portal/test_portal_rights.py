"""The rights centre under the signed link, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.testclient import TestClient

from models import ConsentStatus, Contact, Purpose, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse, token_id
from reconsent.kernel.vocab import (
    Channel,
    ConsentState,
    RequestStatus,
    RightsKind,
    RightsStatus,
    SuppressionReason,
)
from reconsent.settings import Settings
from tests.support import factories
from tests.support.codes import verify_link

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _forms(client: TestClient, token: str, lang: str = "en") -> dict[str, dict[str, str]]:
    page = client.get(f"/c/{token}/rights?lang={lang}")
    assert page.status_code == 200 and page.template.name == "rights.html"
    forms: dict[str, dict[str, str]] = page.context["forms"]
    return forms


def _post(client: TestClient, form: dict[str, str], **fields: str) -> Any:
    return client.post(
        form["action"], data={"nonce": form["nonce"], "csrf": form["csrf"], **fields}
    )


def _rights(db: Db) -> list[RightsRequest]:
    with unit_of_work(db.engine) as session:
        return list(session.scalars(select(RightsRequest).order_by(RightsRequest.id)))


def _contact(db: Db, contact_id: int) -> Contact:
    with unit_of_work(db.engine) as session:
        found = session.get(Contact, contact_id)
        assert found is not None
        return found


def _give(db: Db, seeded: Seeded, code: str) -> None:
    with unit_of_work(db.engine) as session:
        contact = session.get(Contact, seeded.contact_id)
        purpose = session.scalars(select(Purpose).where(Purpose.code == code)).one()
        assert contact is not None
        when = db.clock.now() - timedelta(days=30)
        factories.record(session, when, contact, purpose, ConsentState.GIVEN, when)


def test_the_rights_centre_is_linked_and_changes_nothing_on_get(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    landing = client.get(f"/c/{token}")
    assert f'href="/c/{token}/rights?lang=it"' in landing.text

    page = client.get(f"/c/{token}/rights")

    assert page.status_code == 200 and '<html lang="it">' in page.text
    forms = page.context["forms"]
    assert set(forms) == {
        "access",
        "json",
        "csv",
        "rectification",
        "restriction",
        "objection",
        "erasure",
        "code",
    }
    assert len({f["nonce"] for f in forms.values()}) == 8  # one nonce per form
    # Without a one-time code: no access, download or erasure form, a "send me a code" one.
    assert page.context["verified"] is False
    assert page.text.count('name="csrf"') == 4 and page.text.count("<form") == 4
    assert f'action="/c/{token}/code"' in page.text and "erase-confirm" not in page.text
    assert '<label for="fix-email">' in page.text and 'id="fix-email"' in page.text
    assert "checked" not in page.text and "<script" not in page.text
    assert "x@example.com" not in page.text  # no personal data until the person asks
    assert page.headers["cache-control"] == "no-store"
    assert _rights(db) == [] and db.suppressions() == []


def test_access_shows_the_data_and_is_recorded_with_its_due_date(
    client: TestClient,
    signer: LinkSigner,
    seeded: Seeded,
    db: Db,
    clock: FixedClock,
    settings: Settings,
) -> None:
    _give(db, seeded, "profiling")
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    verify_link(client, token, settings.outbox_path)
    form = _forms(client, token)["access"]

    response = _post(client, form)
    again = _post(client, form)

    assert response.status_code == again.status_code == 200
    assert response.template.name == "data.html"
    data = response.context["data"]
    assert data["contact"]["email"] == "x@example.com"
    assert data["contact"]["phone"] == "+393331234567"
    assert [c["purpose"] for c in data["consents"]] == ["profiling"]
    assert "x@example.com" in response.text and "<td>Profiling</td>" in response.text
    [row] = _rights(db)  # the same form twice: one request
    assert (row.kind, row.status) == (RightsKind.ACCESS, RightsStatus.COMPLETED)
    assert row.received_at == clock.now() and row.completed_at == clock.now()
    assert row.due_at == clock.now().replace(month=1, year=2027)  # one calendar month
    assert row.subject_id == data["contact"]["subject_id"]
    assert row.evidence["token_id"] == token_id(token)
    assert row.evidence["path"] == f"/c/{token_id(token)}/rights/access"
    assert token not in json.dumps(row.evidence)
    assert (row.channel, row.request_id) == (Channel.EMAIL, seeded.request_id)


def test_portability_downloads_json_and_csv(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, settings: Settings
) -> None:
    _give(db, seeded, "marketing_email")
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    verify_link(client, token, settings.outbox_path)
    forms = _forms(client, token)

    as_json = _post(client, forms["json"])
    as_csv = _post(client, forms["csv"])

    assert as_json.status_code == as_csv.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["content-disposition"] == 'attachment; filename="my-data-20261201.json"'
    exported = as_json.json()
    assert exported["format"] == "reconsent.subject-export.v1"
    assert exported["contact"]["given_name"] == "Giulia"
    assert [e["state"] for e in exported["consent_history"]] == ["given"]
    assert exported["consent_history"][0]["hash"]
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "item", "field", "value"]
    assert ["contact", "1", "email", "x@example.com"] in rows
    assert ["consent_history", "1", "purpose", "marketing_email"] in rows
    kinds = [(r.kind, r.details) for r in _rights(db)]
    assert kinds == [
        (RightsKind.PORTABILITY, {"format": "json"}),
        (RightsKind.PORTABILITY, {"format": "csv"}),
    ]


def test_rectification_is_recorded_for_an_operator_and_never_applied(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    forms = _forms(client, token)

    empty = _post(client, forms["rectification"], **{"fix.email": "   "})
    response = _post(
        client,
        forms["rectification"],
        **{"fix.email": "giulia.new@example.com", "fix.note": "I moved", "fix.phone": ""},
    )

    assert empty.status_code == 400 and empty.context["error"] == "no_correction"
    assert response.status_code == 200 and response.template.name == "rights_done.html"
    assert "We will check it and correct your data by 2027-01-01." in response.text
    [row] = _rights(db)
    assert (row.kind, row.status, row.completed_at) == (
        RightsKind.RECTIFICATION,
        RightsStatus.OPEN,
        None,
    )
    assert row.details == {"corrections": {"email": "giulia.new@example.com", "note": "I moved"}}
    assert _contact(db, seeded.contact_id).email == "x@example.com"  # not applied


def test_restriction_sets_restricted_at(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)

    response = _post(client, _forms(client, token, "it")["restriction"])

    assert response.status_code == 200 and "Il trattamento è limitato" in response.text
    assert _contact(db, seeded.contact_id).restricted_at == clock.now()
    assert [(r.kind, r.status) for r in _rights(db)] == [
        (RightsKind.RESTRICTION, RightsStatus.COMPLETED)
    ]


def test_objection_withdraws_and_suppresses_every_channel_at_once(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    _give(db, seeded, "marketing_email")
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    form = _forms(client, token)["objection"]

    response = _post(client, form)
    replay = _post(client, form)

    assert response.status_code == 200 and "You will not receive marketing again" in response.text
    assert replay.context["replay"] is True
    [suppression] = [s for s in db.suppressions() if s.address_hash is None]
    assert (suppression.contact_id, suppression.channel, suppression.reason) == (
        seeded.contact_id,
        None,
        SuppressionReason.OBJECTION,
    )
    by_address = {(s.channel, s.reason) for s in db.suppressions() if s.address_hash}
    assert by_address == {(channel, SuppressionReason.OBJECTION) for channel in Channel}
    withdrawn = db.events()[1:]
    assert [e.state for e in withdrawn] == [ConsentState.WITHDRAWN]
    assert withdrawn[0].evidence["reason"] == "objection"
    assert db.request(seeded.request_id).status is RequestStatus.REFUSED
    assert [r.kind for r in _rights(db)] == [RightsKind.OBJECTION]


def test_erasure_removes_the_identity_keeps_hashes_and_history(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, settings: Settings
) -> None:
    _give(db, seeded, "marketing_email")
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    verify_link(client, token, settings.outbox_path)
    forms = _forms(client, token)
    _post(client, forms["rectification"], **{"fix.family_name": "Bianchi"})
    before = _contact(db, seeded.contact_id)

    unconfirmed = _post(client, forms["erasure"])
    response = _post(client, forms["erasure"], confirm="yes")
    replay = _post(client, forms["erasure"], confirm="yes")
    dead = client.get(f"/c/{token}")

    assert unconfirmed.status_code == 400 and unconfirmed.context["error"] == "erasure_unconfirmed"
    assert response.status_code == 200 and "Your data is erased" in response.text
    assert replay.status_code == 200 and replay.context["replay"] is True
    assert dead.status_code == 400  # the link of an erased person is dead
    after = _contact(db, seeded.contact_id)
    assert (after.given_name, after.family_name, after.email, after.phone) == (None,) * 4
    assert (after.email_hash, after.phone_hash) == (None, None)
    assert after.erased_at is not None and after.subject_id == before.subject_id
    erasure = [s for s in db.suppressions() if s.reason is SuppressionReason.ERASURE]
    # The contact on every channel; each address on the channels it serves (issue 17).
    assert {(s.address_hash, s.channel) for s in erasure} == {
        (None, None),
        (before.email_hash, Channel.EMAIL),
        (before.phone_hash, Channel.SMS),
        (before.phone_hash, Channel.IVR),
    }
    assert all(s.contact_id == seeded.contact_id for s in erasure)
    events = db.events()
    assert [e.state for e in events] == [ConsentState.GIVEN, ConsentState.WITHDRAWN]
    assert {e.subject_id for e in events} == {before.subject_id}
    with unit_of_work(db.engine) as session:
        assert session.scalars(select(ConsentStatus.state)).all() == [ConsentState.WITHDRAWN]
    rows = _rights(db)
    assert [(r.kind, r.status) for r in rows] == [
        (RightsKind.RECTIFICATION, RightsStatus.DECLINED),
        (RightsKind.ERASURE, RightsStatus.COMPLETED),
    ]
    assert rows[0].details == {"redacted": True}  # the correction named the person
    assert rows[1].details == {"suppressed_addresses": 2}


def test_every_rights_form_needs_its_csrf_token(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    other = db.seed("c2")
    foreign = _forms(client, signer.sign(LinkUse.LANDING, other.request_id))
    mine = _forms(client, token)

    responses = [client.post(mine[name]["action"], data={"confirm": "yes"}) for name in mine] + [
        client.post(mine[name]["action"], data={**foreign[name], "confirm": "yes"}) for name in mine
    ]

    assert [r.status_code for r in responses] == [403] * 16
    assert _rights(db) == [] and db.suppressions() == []
    assert _contact(db, seeded.contact_id).erased_at is None


def test_an_expired_link_offers_a_fresh_one_and_a_tampered_one_does_not(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    clock.advance(timedelta(days=15))

    expired = client.get(f"/c/{token}/rights?lang=en")
    tampered = client.get(f"/c/{token[:-2]}xx/rights?lang=en")

    assert expired.status_code == 410 and expired.context["error"] == "expired"
    assert f'action="/c/{token}/renew"' in expired.text
    assert "Send me a fresh link" in expired.text and "Giulia" not in expired.text
    assert tampered.status_code == 400 and "renew" not in tampered.text
    assert _rights(db) == []


def test_an_unknown_right_or_format_is_a_friendly_404(
    client: TestClient, signer: LinkSigner, seeded: Seeded
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    form = _forms(client, token)["access"]
    data = {"nonce": form["nonce"], "csrf": form["csrf"]}

    assert client.post(f"/c/{token}/rights/nothing", data=data).status_code == 404
    assert client.post(f"/c/{token}/data.xml", data=data).status_code == 404
