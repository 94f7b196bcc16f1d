"""The standing preference centre (``/me``), on SQLite and PostgreSQL: behind a one-time
code, every purpose shown and changed, each change a ledger event the next
contactability check sees; objection, access, download and erasure from there too."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import Contact, Purpose, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RightsKind,
    SuppressionReason,
)
from reconsent.operators.contact_checks import CheckOptions, Lookup, check_contacts
from reconsent.settings import Settings
from tests.support import factories
from tests.support.codes import ask_from_home, latest_code, post_form, type_code

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded


def _open(client: TestClient, settings: Settings, address: str = "x@example.com") -> Any:
    entry = ask_from_home(client, address)
    answer = type_code(client, entry, latest_code(settings.outbox_path))
    assert answer.status_code == 303 and answer.headers["location"] == "/me?lang=en"
    centre = client.get("/me?lang=en")
    assert centre.status_code == 200 and centre.template.name == "preferences.html"
    return centre


def _give(db: Db, seeded: Seeded, *codes: str) -> None:
    with unit_of_work(db.engine) as session:
        contact = session.get_one(Contact, seeded.contact_id)
        when = db.clock.now() - timedelta(days=30)
        for code in codes:
            purpose = session.scalars(select(Purpose).where(Purpose.code == code)).one()
            factories.record(session, when, contact, purpose, ConsentState.GIVEN, when)


def _email_allowed(engine: Engine, settings: Settings, clock: FixedClock, purpose: str) -> bool:
    options = CheckOptions(address_key=settings.address_key())
    with engine.connect() as conn:
        [answer] = check_contacts(
            conn,
            Channel.EMAIL,
            [Lookup("email", "x@example.com")],
            options,
            now=clock.now(),
            purpose=purpose,
        )
    return answer.allowed


def test_without_a_code_the_centre_is_closed(client: TestClient, seeded: Seeded, db: Db) -> None:
    page = client.get("/me?lang=en")
    post = client.post("/me/choices", data={"p.profiling": "yes"})
    guessed = type_code(client, ask_from_home(client, "nobody@example.com"), "123456")
    after_guess = client.get("/me?lang=en")

    assert page.status_code == post.status_code == after_guess.status_code == 401
    assert page.context["error"] == "session_needed" and 'href="/?lang=en#code"' in page.text
    assert guessed.status_code == 400
    assert db.events() == []


def test_every_purpose_is_shown_with_its_state(
    client: TestClient, seeded: Seeded, db: Db, settings: Settings
) -> None:
    _give(db, seeded, "profiling")

    centre = _open(client, settings)

    purposes = centre.context["purposes"]
    assert [p["code"] for p in purposes] == [
        "marketing_email",
        "marketing_sms",
        "marketing_phone",
        "profiling",
    ]
    assert [p["state"] for p in purposes] == [None, None, None, "given"]
    assert centre.text.count(" checked") == 1  # the one given: Yes; nothing else is ticked
    assert centre.context["notice_url"] == "/notice/2026-09?lang=en"
    assert centre.headers["cache-control"] == "no-store"
    assert "x@example.com" not in centre.text


def test_a_change_is_a_ledger_event_the_next_check_sees(
    client: TestClient,
    seeded: Seeded,
    db: Db,
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
) -> None:
    _give(db, seeded, "marketing_email")
    assert _email_allowed(engine, settings, clock, "marketing_email") is True
    centre = _open(client, settings)
    form = centre.context["forms"]["choices"]
    clock.advance(timedelta(minutes=1))

    saved = post_form(client, form, **{"p.marketing_email": "no", "p.profiling": "yes"})
    replay = post_form(client, form, **{"p.marketing_email": "no", "p.profiling": "yes"})
    same_again = post_form(
        client, client.get("/me?lang=en").context["forms"]["choices"], **{"p.profiling": "yes"}
    )

    assert saved.status_code == 200 and "your changes are recorded" in saved.text
    assert replay.status_code == same_again.status_code == 200
    assert "nothing new was recorded" in same_again.text
    events = db.events()[1:]  # after the imported consent
    assert [(e.state, e.method, e.actor) for e in events] == [
        (ConsentState.WITHDRAWN, CollectionMethod.PORTAL, "subject"),
        (ConsentState.GIVEN, CollectionMethod.PORTAL, "subject"),
    ]
    assert {e.source for e in events} == {"portal:preference_centre"}
    assert {(e.notice_version, e.request_id, e.wave_id) for e in events} == {
        ("2026-09", None, None)
    }
    evidence = events[0].evidence
    assert evidence["via"] == "preference_centre" and evidence["path"] == "/me/choices"
    assert evidence["session_id"] and evidence["form_nonce"] == form["nonce"]
    assert "x@example.com" not in str(evidence)
    assert _email_allowed(engine, settings, clock, "marketing_email") is False
    centre = client.get("/me?lang=en")
    assert [p["state"] for p in centre.context["purposes"]] == ["withdrawn", None, None, "given"]
    # and back: a Yes again is a new GIVEN event, and the check allows e-mail again
    again = post_form(client, centre.context["forms"]["choices"], **{"p.marketing_email": "yes"})
    assert again.status_code == 200 and db.events()[-1].state is ConsentState.GIVEN
    assert _email_allowed(engine, settings, clock, "marketing_email") is True


def test_objection_from_the_centre_stops_every_channel(
    client: TestClient, seeded: Seeded, db: Db, settings: Settings
) -> None:
    _give(db, seeded, "marketing_email", "profiling")
    forms = _open(client, settings).context["forms"]

    answer = post_form(client, forms["objection"])

    assert answer.status_code == 200
    assert [e.state for e in db.events()[2:]] == [ConsentState.WITHDRAWN] * 2
    assert {s.reason for s in db.suppressions()} == {SuppressionReason.OBJECTION}
    with unit_of_work(db.engine) as session:
        [row] = session.scalars(select(RightsRequest)).all()
    assert (row.kind, row.request_id, row.channel) == (RightsKind.OBJECTION, None, Channel.EMAIL)
    assert row.evidence["via"] == "preference_centre"


def test_every_right_from_the_centre(
    client: TestClient, seeded: Seeded, db: Db, settings: Settings
) -> None:
    forms = _open(client, settings).context["forms"]

    seen = post_form(client, forms["access"])
    downloaded = post_form(client, forms["json"])
    nothing_to_fix = post_form(client, forms["rectification"], **{"fix.email": " "})
    fixed = post_form(client, forms["rectification"], **{"fix.family_name": "Bianchi"})
    restricted = post_form(client, forms["restriction"])
    unconfirmed = post_form(client, forms["erasure"])
    erased = post_form(client, forms["erasure"], confirm="yes")
    after = client.get("/me?lang=en")

    assert seen.status_code == 200 and seen.template.name == "data.html"
    assert "x@example.com" in seen.text
    assert downloaded.json()["contact"]["email"] == "x@example.com"
    assert nothing_to_fix.status_code == 400 and nothing_to_fix.context["error"] == "no_correction"
    assert fixed.status_code == restricted.status_code == 200
    assert "Processing is restricted" in restricted.text
    assert unconfirmed.status_code == 400
    assert erased.status_code == 200 and 'reconsent_session=""' in erased.headers["set-cookie"]
    assert after.status_code == 401
    with unit_of_work(db.engine) as session:
        contact = session.get_one(Contact, seeded.contact_id)
        kinds = session.scalars(select(RightsRequest.kind).order_by(RightsRequest.id)).all()
    assert contact.erased_at is not None and contact.email is None
    assert kinds == [
        RightsKind.ACCESS,
        RightsKind.PORTABILITY,
        RightsKind.RECTIFICATION,
        RightsKind.RESTRICTION,
        RightsKind.ERASURE,
    ]


def test_the_centre_forms_need_their_session_csrf_token(
    client: TestClient, seeded: Seeded, db: Db, settings: Settings
) -> None:
    other = db.seed("c2", email="y@example.com", phone="+393337654321")
    centre = _open(client, settings)
    mine = centre.context["forms"]
    with TestClient(client.app, base_url="http://portal.test") as second:
        theirs = _open(second, settings, "y@example.com").context["forms"]
        foreign = post_form(second, mine["choices"], **{"p.profiling": "yes"})

    missing = client.post("/me/choices", data={"p.profiling": "yes"})
    assert missing.status_code == foreign.status_code == 403
    assert post_form(client, theirs["objection"]).status_code == 403
    assert db.events() == [] and db.suppressions() == []
    assert other.contact_id != seeded.contact_id
