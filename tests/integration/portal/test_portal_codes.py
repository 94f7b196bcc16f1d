"""One-time codes on the portal, on SQLite and PostgreSQL: a forwarded link alone
cannot see, download or erase; three wrong codes lock; the home form answers the same
whether or not we hold the address; codes are single use, hashed, short-lived."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from consent_portal.app import create_app
from models import Contact, OneTimeCode, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.links import LinkSigner, LinkUse
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings
from tests.support.codes import (
    ask_from_home,
    code_files,
    latest_code,
    post_form,
    type_code,
    verify_link,
)

if TYPE_CHECKING:
    from tests.integration.portal.conftest import Db, Seeded

BASE_URL = "http://portal.test"


def _rights_forms(client: TestClient, token: str) -> dict[str, dict[str, str]]:
    forms: dict[str, dict[str, str]] = client.get(f"/c/{token}/rights?lang=en").context["forms"]
    return forms


def _codes(db: Db) -> list[OneTimeCode]:
    with unit_of_work(db.engine) as session:
        return list(session.scalars(select(OneTimeCode).order_by(OneTimeCode.id)))


def _ask_on_link(client: TestClient, token: str) -> Any:
    return post_form(client, _rights_forms(client, token)["code"])


def test_a_forwarded_link_alone_cannot_see_download_or_erase(
    client: TestClient,
    signer: LinkSigner,
    seeded: Seeded,
    db: Db,
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    app = create_app(settings, clock=clock, engine=engine)
    with TestClient(app, base_url=BASE_URL) as forwarded:  # another browser, the same link
        forms = _rights_forms(forwarded, token)
        answers = [
            post_form(forwarded, forms["access"]),
            post_form(forwarded, forms["json"]),
            post_form(forwarded, forms["csv"]),
            post_form(forwarded, forms["erasure"], confirm="yes"),
        ]
        # the person verifies in their own browser: the forwarded one is still refused
        verify_link(client, token, settings.outbox_path)
        after = post_form(forwarded, _rights_forms(forwarded, token)["json"])

    assert [a.status_code for a in answers] == [403] * 4
    assert {a.context["error"] for a in answers} == {"code_needed"}
    assert all("x@example.com" not in a.text for a in answers)
    assert after.status_code == 403
    with unit_of_work(db.engine) as session:
        assert session.scalars(select(RightsRequest)).all() == []
        contact = session.get(Contact, seeded.contact_id)
        assert contact is not None and contact.erased_at is None
    # with the code, the person's own browser sees the data and can download it
    mine = _rights_forms(client, token)
    assert client.get(f"/c/{token}/rights").context["verified"] is True
    assert post_form(client, mine["json"]).json()["contact"]["email"] == "x@example.com"


def test_the_code_goes_to_the_address_we_hold_on_the_link_channel(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, settings: Settings
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)

    entry = _ask_on_link(client, token)

    assert entry.status_code == 200 and entry.template.name == "code_entry.html"
    [message] = code_files(settings.outbox_path)
    assert message.parent.name == "email"  # the link came by e-mail
    raw = message.read_bytes().decode("ascii")
    assert "To: x@example.com" in raw and "List-Unsubscribe" not in raw
    [row] = _codes(db)
    code = latest_code(settings.outbox_path)
    assert (row.contact_id, row.channel, row.request_id) == (
        seeded.contact_id,
        Channel.EMAIL,
        seeded.request_id,
    )
    stored = " ".join(str(getattr(row, c.key)) for c in OneTimeCode.__table__.columns)
    assert code not in stored and "x@example.com" not in stored  # hashed, keyed
    index = (settings.outbox_path / "index.jsonl").read_text()
    assert code not in index and "x@example.com" not in index


def test_a_wrong_code_three_times_locks_the_request_for_a_while(
    client: TestClient,
    signer: LinkSigner,
    seeded: Seeded,
    db: Db,
    settings: Settings,
    clock: FixedClock,
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    entry = _ask_on_link(client, token)
    right = latest_code(settings.outbox_path)
    wrong = "000000" if right != "000000" else "111111"

    first = type_code(client, entry, wrong)
    second = type_code(client, first, wrong)
    third = type_code(client, second, wrong)
    clock.advance(timedelta(minutes=1))
    too_late = type_code(client, entry, right)  # even the right code, now
    new_request = _ask_on_link(client, token)  # and no new code for the person meanwhile

    assert [first.status_code, second.status_code] == [400, 400]
    assert "Tries left: 2" in first.text and "Tries left: 1" in second.text
    assert third.status_code == 429 and third.context["error"] == "code_locked"
    assert too_late.status_code == 429 and "reconsent_session" not in too_late.headers.get(
        "set-cookie", ""
    )
    assert new_request.status_code == 429 and new_request.context["error"] == "code_limited"
    assert len(code_files(settings.outbox_path)) == 1
    [row] = _codes(db)
    assert row.attempts == 3 and row.locked_until == clock.now() - timedelta(minutes=1) + (
        timedelta(minutes=settings.portal_code_lock_minutes)
    )

    clock.advance(timedelta(minutes=settings.portal_code_lock_minutes))
    fresh = _ask_on_link(client, token)
    assert fresh.status_code == 200 and len(code_files(settings.outbox_path)) == 2
    done = type_code(client, fresh, latest_code(settings.outbox_path))
    assert done.status_code == 303 and done.headers["location"] == f"/c/{token}/rights?lang=en"


def test_a_code_is_single_use_and_expires(
    client: TestClient, signer: LinkSigner, seeded: Seeded, settings: Settings, clock: FixedClock
) -> None:
    token = signer.sign(LinkUse.LANDING, seeded.request_id)
    entry = _ask_on_link(client, token)
    code = latest_code(settings.outbox_path)

    assert type_code(client, entry, code).status_code == 303
    reused = type_code(client, entry, code)
    late_entry = _ask_on_link(client, token)
    clock.advance(timedelta(minutes=settings.portal_code_minutes))
    late = type_code(client, late_entry, latest_code(settings.outbox_path))

    assert reused.status_code == 410 and reused.context["error"] == "code_expired"
    assert late.status_code == 410


def test_a_session_opens_only_its_own_person_and_ends(
    client: TestClient,
    signer: LinkSigner,
    seeded: Seeded,
    db: Db,
    settings: Settings,
    clock: FixedClock,
) -> None:
    other = db.seed("c2", email="y@example.com", phone="+393337654321")
    mine, theirs = (signer.sign(LinkUse.LANDING, s.request_id) for s in (seeded, other))

    verify_link(client, theirs, settings.outbox_path)
    on_mine = post_form(client, _rights_forms(client, mine)["access"])
    on_theirs = post_form(client, _rights_forms(client, theirs)["access"])
    clock.advance(timedelta(minutes=settings.portal_session_minutes))
    ended = post_form(client, _rights_forms(client, theirs)["access"])

    assert on_mine.status_code == 403 and on_mine.context["error"] == "code_needed"
    assert on_theirs.status_code == 200 and "y@example.com" in on_theirs.text
    assert ended.status_code == 403


def _masked(text: str) -> str:
    """The page without its per-rendering values (nonces, CSRF tokens, challenge ids)."""
    return re.sub(r'value="[^"]*"', 'value=""', text)


def test_the_home_form_answers_the_same_for_known_and_unknown_addresses(
    client: TestClient, seeded: Seeded, db: Db, settings: Settings
) -> None:
    known = ask_from_home(client, "X@Example.com ")
    unknown = ask_from_home(client, "nobody@example.com")
    phone = ask_from_home(client, "333 123 4567")  # the seeded phone, in national form

    assert known.status_code == unknown.status_code == phone.status_code == 200
    assert known.template.name == unknown.template.name == "code_entry.html"
    assert _masked(known.text) == _masked(unknown.text)
    assert set(known.headers) == set(unknown.headers)
    assert "x@example.com" not in known.text.lower() and "nobody" not in unknown.text
    files = code_files(settings.outbox_path)
    assert [f.parent.name for f in files] == ["email", "sms"]  # nothing for the unknown one
    assert "To: +393331234567" in files[1].read_text()
    rows = _codes(db)
    assert [(r.contact_id, r.channel) for r in rows] == [
        (seeded.contact_id, Channel.EMAIL),
        (None, None),
        (seeded.contact_id, Channel.SMS),
    ]
    # typing a code for the unknown address never opens anything
    guessed = type_code(client, unknown, "123456")
    assert guessed.status_code == 400 and "Tries left: 2" in guessed.text


def test_code_requests_are_limited_per_address_known_or_not(
    settings: Settings, clock: FixedClock, engine: Engine, seeded: Seeded
) -> None:
    limited = settings.model_copy(update={"portal_code_per_address": 2})
    with TestClient(create_app(limited, clock=clock, engine=engine), base_url=BASE_URL) as c:
        known = [ask_from_home(c, "x@example.com").status_code for _ in range(3)]
        unknown = [ask_from_home(c, "nobody@example.com").status_code for _ in range(3)]
        bad = ask_from_home(c, "not an address")

    assert known == unknown == [200, 200, 429]
    assert bad.status_code == 400 and bad.context["error"] == "code_bad_address"


def test_the_session_cookie_is_httponly_samesite_and_secure_over_https(
    settings: Settings, clock: FixedClock, engine: Engine, seeded: Seeded
) -> None:
    secure = settings.model_copy(update={"portal_base_url": "https://portal.test"})
    with TestClient(
        create_app(secure, clock=clock, engine=engine), base_url="https://portal.test"
    ) as c:
        entry = ask_from_home(c, "x@example.com")
        answer = type_code(c, entry, latest_code(settings.outbox_path))

    assert answer.status_code == 303 and answer.headers["location"] == "/me?lang=en"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-reconsent_session=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=strict", "Max-Age=900"):
        assert flag in cookie
    assert "x@example.com" not in cookie and "Domain" not in cookie


def test_a_call_or_sms_link_gets_its_code_by_sms(
    client: TestClient, signer: LinkSigner, seeded: Seeded, db: Db, settings: Settings
) -> None:
    for step in (1, 2):  # the wave's SMS step, then its call
        token = signer.sign(LinkUse.LANDING, seeded.request_id, step)
        assert _ask_on_link(client, token).status_code == 200

    files = code_files(settings.outbox_path)
    assert [f.parent.name for f in files] == ["sms", "sms"]
    assert "To: +393331234567" in files[0].read_text()
    assert [r.channel for r in _codes(db)] == [Channel.SMS, Channel.SMS]


def test_code_requests_are_limited_per_client(
    settings: Settings, clock: FixedClock, engine: Engine, seeded: Seeded
) -> None:
    limited = settings.model_copy(update={"portal_code_per_client": 2})
    with TestClient(create_app(limited, clock=clock, engine=engine), base_url=BASE_URL) as c:
        answers = [ask_from_home(c, f"n{i}@example.com") for i in range(3)]
        clock.advance(timedelta(hours=1))
        later = ask_from_home(c, "n3@example.com")

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].context["error"] == "code_limited" and "Retry-After" in answers[2].headers
    assert later.status_code == 200
