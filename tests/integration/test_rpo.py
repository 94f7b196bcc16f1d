"""Must hold: an RPO registration imported today stops tomorrow's calls and invalidates the
earlier phone consents (never e-mail, never a consent given after it, never a contract
holder's); a wave with a call step and a 20-day-old consultation calls nobody in Italy."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from models import ConsentEvent, ConsentStatus, Contact, Purpose, RpoConsultation, Wave
from reconsent.db import unit_of_work
from reconsent.imports.rpo_answers import import_rpo
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel, ConsentState
from reconsent.planning.classification import classify
from reconsent.settings import Settings
from tests.support import factories

ANNA, BRUNO, CARLA = "+393331110001", "+393331110002", "+393331110003"


def _people(engine: Engine, clock: FixedClock) -> dict[str, int]:
    now = clock.now()
    with unit_of_work(engine) as s:
        purposes = factories.add_catalog(s, now)
        ids: dict[str, int] = {}
        for name, phone in (("anna", ANNA), ("bruno", BRUNO), ("carla", CARLA)):
            contact = factories.add_contact(s, now, name, email=f"{name}@example.it", phone=phone)
            factories.consent_to_channels(s, now, contact, purposes, now - timedelta(days=800))
            ids[name] = contact.id
        bruno = s.get_one(Contact, ids["bruno"])
        bruno.contract_exempt = True  # an active contract: the register does not revoke
        carla = s.get_one(Contact, ids["carla"])
        # carla consented to calls again after registering: that consent stays valid
        factories.record(
            s, now, carla, purposes["marketing_phone"], ConsentState.GIVEN, now - timedelta(days=3)
        )
        factories.add_wave(s, now, name="calls")
    return ids


def _blocks(engine: Engine, now: datetime) -> dict[int, dict[str, str | None]]:
    with unit_of_work(engine) as s:
        wave = s.scalars(select(Wave)).one()
        classified = classify(s, wave, now)
        return {
            row.contact_id: {c.value: row._mapping[f"block_{c.value}"] for c in Channel}
            for row in s.execute(select(classified))
        }


def test_a_registration_revokes_earlier_call_consents_at_once(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    ids = _people(engine, clock)
    answer = tmp_path / "rpo.csv"
    registered = (clock.now() - timedelta(days=30)).date().isoformat()
    answer.write_text(
        "phone,registered_at\n"
        f"{ANNA},{registered}\n{BRUNO},{registered}\n{CARLA},{registered}\n"
        "not-a-number,2026-01-01\n"
    )
    report = import_rpo(
        engine, answer, settings, consulted_at=clock.now(), source="rpo", now=clock.now()
    )
    assert (report.created, [e.line for e in report.errors]) == (3, [5])
    assert "not-a-number" not in str(report.errors)  # no personal data in the report

    with unit_of_work(engine) as s:
        rows = s.execute(
            select(ConsentStatus.contact_id, Purpose.code, ConsentStatus.state).join(
                Purpose, Purpose.id == ConsentStatus.purpose_id
            )
        ).all()
        invalidated = s.scalars(
            select(ConsentEvent).where(ConsentEvent.state == ConsentState.INVALIDATED)
        ).all()
    states = {(contact, code): state for contact, code, state in rows}
    assert states[ids["anna"], "marketing_phone"] is ConsentState.INVALIDATED
    assert states[ids["anna"], "marketing_email"] is ConsentState.GIVEN  # never e-mail
    assert states[ids["anna"], "marketing_sms"] is ConsentState.GIVEN
    assert states[ids["bruno"], "marketing_phone"] is ConsentState.GIVEN  # a contract holder
    assert states[ids["carla"], "marketing_phone"] is ConsentState.GIVEN  # given after it
    [event] = invalidated
    assert event.contact_id == ids["anna"] and event.actor == "rpo"
    assert event.evidence["registered_at"] == registered and "rpo_consultation" in event.evidence
    assert ANNA not in str(event.evidence)

    tomorrow = clock.now() + timedelta(days=1)
    blocks = _blocks(engine, tomorrow)
    assert blocks[ids["anna"]] == {"email": None, "sms": None, "ivr": "no_channel_consent"}
    assert blocks[ids["bruno"]]["ivr"] is None and blocks[ids["carla"]]["ivr"] is None


def test_a_number_listed_twice_is_one_registration(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    """The same number twice in one answer (written two ways, e.g. exported from two CRM
    ids of one person): one registration, counted once as a duplicate."""
    ids = _people(engine, clock)
    answer = tmp_path / "rpo.csv"
    registered = (clock.now() - timedelta(days=30)).date().isoformat()
    answer.write_text(f"phone,registered_at\n{ANNA},{registered}\n333 111 0001,{registered}\n")
    report = import_rpo(
        engine, answer, settings, consulted_at=clock.now(), source="rpo", now=clock.now()
    )
    assert (report.created, report.duplicates, report.errors) == (1, 1, [])
    assert _blocks(engine, clock.now())[ids["anna"]]["ivr"] == "no_channel_consent"


def test_a_stale_consultation_stops_every_call_to_italy(engine: Engine, clock: FixedClock) -> None:
    ids = _people(engine, clock)
    with unit_of_work(engine) as s:  # the only consultation was 20 days ago
        for row in s.scalars(select(RpoConsultation)):
            row.consulted_at = clock.now() - timedelta(days=20)
    blocks = _blocks(engine, clock.now())
    assert {blocks[i]["ivr"] for i in ids.values()} == {"rpo_not_consulted"}
    assert {blocks[i]["email"] for i in ids.values()} == {None}  # e-mail is not its business
    assert {blocks[i]["sms"] for i in ids.values()} == {None}
    with unit_of_work(engine) as s:
        s.add(
            RpoConsultation(
                consulted_at=clock.now() - timedelta(days=1),
                source="rpo",
                numbers=0,
                imported_at=clock.now(),
            )
        )
    assert {b["ivr"] for b in _blocks(engine, clock.now()).values()} == {None}


def test_the_contract_exemption_comes_from_the_contacts_file(
    engine: Engine, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    from reconsent.imports import import_contacts

    path = tmp_path / "contacts.csv"
    path.write_text(
        "external_id,given_name,family_name,email,phone,locale,timezone,contract_exempt\n"
        f"K1,Anna,Neri,anna@example.it,{ANNA},it,Europe/Rome,yes\n"
        f"K2,Bruno,Neri,bruno@example.it,{BRUNO},it,Europe/Rome,no\n"
        f"K3,Carla,Neri,carla@example.it,{CARLA},it,Europe/Rome,maybe\n"
    )
    report = import_contacts(engine, path, settings, clock.now())
    assert report.created == 2 and [e.line for e in report.errors] == [4]
    with unit_of_work(engine) as s:
        flags = dict(s.execute(select(Contact.external_id, Contact.contract_exempt)).all())
    assert flags == {"K1": True, "K2": False}
