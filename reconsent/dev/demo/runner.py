"""The demo: a sample base, a wave with email -> SMS -> IVR escalation, simulated
customers answering through the real portal, and the resulting funnel.

Time is virtual: the wave starts on a weekday morning in Rome and every tick
pins the flow's clock, and the portal shares the same clock, so calling hours
are respected and nothing sleeps.  Everything lands in ``demo-data/``: the
SQLite database, the file outbox (what customers would receive), dev keys.
With ``providers="emulated"`` the messages go through the real SDKs to emulated
SendGrid and Twilio servers instead of the outbox (:mod:`reconsent.dev.demo.emulated`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from reconsent.dev.demo.customers import DEMO_ACCOUNT_SID
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.rules.quiet_hours import italian_holidays

if TYPE_CHECKING:
    from reconsent.dev.demo.emulated import EmulatedProviders

MARKER = ".reconsent-demo"
#: Signs the simulated voice webhooks of the demo's own portal; not a secret.
DEMO_TWILIO_TOKEN = "demo-webhook-token"  # noqa: S105
#: The examples, as package data (a symlink to the top-level examples/ in a checkout,
#: the files themselves in an installed wheel).
EXAMPLES = Path(__file__).parent / "examples"


class Providers(StrEnum):
    """Where the demo's messages go."""

    OUTBOX = "outbox"  # files under DATA_DIR/outbox
    EMULATED = "emulated"  # the real SDKs against emulated SendGrid and Twilio servers


@dataclass
class DemoOptions:
    directory: Path
    contacts: int = 1000
    seed: int = 7
    #: The emulated providers' signed callbacks reach the portal (``reconsent.dev.demo.emulated``).
    providers: Providers = Providers.OUTBOX


def virtual_start(today: datetime) -> datetime:
    """The next Tuesday, 09:00 UTC (10:00 in Rome), with no Italian holiday that week."""
    day = today.date() + timedelta(days=1)
    while True:
        week = [day + timedelta(days=i) for i in range(4)]
        if day.weekday() == 1 and not any(d in italian_holidays(d.year) for d in week):
            return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
        day += timedelta(days=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_directory(directory: Path) -> None:
    if directory.exists():
        if not (directory / MARKER).exists():
            from reconsent.kernel.errors import ConfigError

            raise ConfigError(
                f"{directory} exists and was not made by the demo: choose another --dir"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("made by `reconsent demo`; safe to delete\n")


def demo_environment(directory: Path, port: int) -> dict[str, str]:
    root = directory.resolve()
    return {
        "RECONSENT_DATABASE_URL": f"sqlite:///{root / 'reconsent.db'}",
        "RECONSENT_DATA_DIR": str(root / "var"),
        # The demo's own keys, generated into its folder (never for production).
        "RECONSENT_DEV_KEYS": "true",
        "RECONSENT_PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "RECONSENT_CHANNEL_MODE": "outbox",
        "RECONSENT_TWILIO_AUTH_TOKEN": DEMO_TWILIO_TOKEN,
        "RECONSENT_TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID,
        "RECONSENT_CONTROLLER_NAME": "Contact Centre Demo S.r.l.",
        "RECONSENT_CONTROLLER_CONTACT": "privacy@example.it",
        # Every simulated customer comes from 127.0.0.1: no per-address limit in the demo.
        "RECONSENT_PORTAL_RATE_PER_IP": "0",
    }


def run_demo(options: DemoOptions, say: Callable[[str], None]) -> dict[str, Any]:
    from reconsent.dev.demo.emulated import EmulatedProviders

    emulated = None
    if options.providers is Providers.EMULATED:
        emulated = EmulatedProviders(DEMO_TWILIO_TOKEN, seed=options.seed)
    try:
        return _run_demo(options, say, emulated)
    finally:
        if emulated is not None:
            emulated.close()


def _run_demo(
    options: DemoOptions, say: Callable[[str], None], emulated: EmulatedProviders | None
) -> dict[str, Any]:
    started = time.monotonic()
    prepare_directory(options.directory)
    port = _free_port()
    os.environ.update(demo_environment(options.directory, port))
    if emulated is not None:
        os.environ.update(emulated.environment())
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The ephemeral Prefect server's telemetry heartbeat races its own SQLite database.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect waits 20 s for its local server; a busy 2-core machine can take longer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

    from reconsent.db import unit_of_work, upgrade
    from reconsent.kernel.url_masking import mask_url_passwords
    from reconsent.settings import load_settings
    from reconsent.wiring import command_engine

    settings = load_settings()
    clock = FixedClock(virtual_start(datetime.now(UTC)))
    upgrade(settings.database_url)
    engine = command_engine(settings)
    say(f"[1/6] database ready: {mask_url_passwords(settings.database_url)}")

    from reconsent.campaigns.catalog_file import load_catalog
    from reconsent.dev.sample import write_rpo_answer, write_sample
    from reconsent.imports import import_consents, import_contacts

    with unit_of_work(engine) as session:
        load_catalog(session, EXAMPLES / "catalog.toml", settings, clock.now())
    sample = write_sample(
        options.directory / "sample", options.contacts, options.seed, now=clock.now()
    )
    contacts = import_contacts(engine, sample.contacts_csv, settings, clock.now())
    consents = import_consents(engine, sample.consents_csv, settings, clock.now())
    say(f"[2/6] catalog loaded; sample base written to {sample.contacts_csv.parent}/")
    say(
        f"      contacts: {contacts.created} imported, {len(contacts.errors)} bad rows reported"
        + "".join(f"\n        line {e.line}: {e.reason}" for e in contacts.errors)
    )
    say(
        f"      consent history: {consents.created} events, "
        f"{len(consents.errors)} bad rows reported"
        + "".join(f"\n        line {e.line}: {e.reason}" for e in consents.errors)
    )
    from reconsent.imports.rpo_answers import import_rpo

    # The Italian numbers were checked against the RPO two days ago (calls need a
    # consultation at most 15 days old); some turned out registered.
    rpo_answer = write_rpo_answer(sample.contacts_csv, options.directory / "sample", clock.now())
    registered = import_rpo(
        engine,
        rpo_answer,
        settings,
        consulted_at=clock.now() - timedelta(days=2),
        source="demo RPO answer",
        now=clock.now(),
    )
    say(
        f"      RPO consulted: {registered.created} registered numbers; their earlier call "
        "consents are invalidated"
    )

    from reconsent.campaigns.waves import create_wave
    from reconsent.kernel.waveconfig import load_wave_config

    config = load_wave_config(EXAMPLES / "demo-wave.toml")
    with unit_of_work(engine) as session:
        wave_id = create_wave(session, config, clock.now()).id
    say(
        f"[3/6] wave {wave_id} created from examples/demo-wave.toml; virtual time starts "
        f"{clock.now():%A %d %B %Y %H:%M} UTC"
    )

    from consent_portal.app import create_app
    from flows.wave_tick import wave_tick
    from reconsent.dev.demo.customers import Customers
    from reconsent.dev.emulators.server import running_server

    outbox = settings.outbox_path
    seen: set[int] = set()
    ticks: list[dict[str, Any]] = []
    app = create_app(settings, clock=clock)
    with running_server(app, port=port) as base, httpx.Client(timeout=30) as client:
        say(f"[4/6] consent portal serving at {base} (the links in the outbox point here)")
        if emulated is not None:
            say(
                f"      providers: emulated SendGrid at {emulated.sendgrid_url}, Twilio at "
                f"{emulated.twilio_url} (real SDKs; their signed callbacks reach the portal)"
            )
        people = Customers(client, DEMO_TWILIO_TOKEN, seed=options.seed)
        say("[5/6] running the wave (each tick is a Prefect flow run):")
        for step in [*config.steps, None]:
            result = wave_tick(wave_id, clock.now())
            ticks.append(result)
            sent = {k: v for k, v in result["activity"].get("sent", {}).items()}
            closed = result["activity"].get("closed", {})
            say(
                f"      {clock.now():%a %H:%M} UTC tick: sent {sent or '{}'}"
                + (f", closed {closed}" if closed else "")
            )
            entries = (
                _new_outbox_entries(outbox, seen)
                if emulated is None
                else emulated.new_entries(client, base, clock.now())
            )
            for entry in entries:
                if emulated is not None and emulated.act(entry, people, client, base):
                    continue
                if entry["channel"] == "email":
                    people.follow_link("email", entry["link"], p_open=0.55)
                elif entry["channel"] == "sms":
                    people.follow_link("sms", entry["link"], p_open=0.40)
                elif entry["channel"] == "ivr" and entry.get("voice_url"):
                    people.answer_call(
                        entry["voice_url"],
                        to=_callee(engine, int(entry["attempt_id"])),
                        account_sid=DEMO_ACCOUNT_SID,
                    )
            if step is not None:
                clock.advance(step.wait_delta)
    from reconsent.dev.demo.operator_calls import operator_round

    contact_centre = operator_round(settings, clock, engine)
    if contact_centre:
        before, after = contact_centre["before"], contact_centre["after"]
        say(
            f"      contact centre (operator API at {contact_centre['base']}/api/v1/docs): "
            f"{contact_centre['allowed']} of {contact_centre['checked']} numbers may be called "
            f"now; may we call {contact_centre['objection']}? allowed={before['allowed']} "
            f"{before['reasons']}; an agent records their objection; asked again: "
            f"allowed={after['allowed']} {after['reasons']}"
        )
    proof_example = _confirmed_by_phone(engine, wave_id)
    documents = _dpo_documents(engine, settings, clock, options.directory / "dpo")
    say(f"      record of processing and DPIA draft (it, en; md, html, json): {documents}/")
    from reconsent.retention.minimisation import run_retention

    # Storage limitation on the demo base: what the policy would do, then doing it.
    retention = [
        run_retention(engine, settings, clock.now(), dry_run=dry).as_dict() for dry in (True, False)
    ]
    engine.dispose()
    funnel = ticks[-1]["funnel"]
    return {
        "wave_id": wave_id,
        "funnel": funnel,
        "customers": dict(sorted(people.tally.counts.items())),
        "outbox": str(outbox) if emulated is None else None,
        "callbacks": dict(sorted(emulated.callbacks.items())) if emulated is not None else {},
        "sample_counts": sample.counts,
        "seconds": round(time.monotonic() - started, 1),
        "proof_example": proof_example,
        "contact_centre": contact_centre,
        "dpo_documents": str(documents),
        "retention": retention,
    }


def _dpo_documents(engine: Any, settings: Any, clock: FixedClock, folder: Path) -> Path:
    """The record of processing and the DPIA draft of the demo's catalog, base and wave."""
    from reconsent.db import unit_of_work
    from reconsent.records.catalog_rows import read_snapshot
    from reconsent.records.product_facts import product_facts
    from reconsent.records.record_render import documents
    from reconsent.wiring import channel_providers

    with unit_of_work(engine) as session:
        snapshot = read_snapshot(session)
    facts = product_facts(settings, channel_providers(settings), clock.now())
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in documents(snapshot, facts).items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def _callee(engine: Any, attempt_id: int) -> str:
    """The number an outbox call went to (the manifest names no one, by design)."""
    from sqlalchemy import select

    from models import Contact, SendAttempt, WaveRequest
    from reconsent.db import unit_of_work

    with unit_of_work(engine) as session:
        phone = session.scalar(
            select(Contact.phone)
            .join(WaveRequest, WaveRequest.contact_id == Contact.id)
            .join(SendAttempt, SendAttempt.request_id == WaveRequest.id)
            .where(SendAttempt.id == attempt_id)
        )
    return phone or ""


def _confirmed_by_phone(engine: Any, wave_id: int) -> str | None:
    """The external id of someone who confirmed on the phone (else by any channel)."""
    from sqlalchemy import select

    from models import Contact, WaveRequest
    from reconsent.db import unit_of_work
    from reconsent.kernel.vocab import Channel, RequestStatus

    with unit_of_work(engine) as session:
        query = (
            select(Contact.external_id)
            .join(WaveRequest, WaveRequest.contact_id == Contact.id)
            .where(WaveRequest.wave_id == wave_id, WaveRequest.status == RequestStatus.CONFIRMED)
        )
        return session.scalar(
            query.where(WaveRequest.answered_channel == Channel.IVR).limit(1)
        ) or session.scalar(query.limit(1))


def _new_outbox_entries(outbox: Path, seen: set[int]) -> list[dict[str, Any]]:
    index = outbox / "index.jsonl"
    if not index.exists():
        return []
    fresh = []
    for line in index.read_text().splitlines():
        entry = json.loads(line)
        if entry["attempt_id"] not in seen:
            seen.add(entry["attempt_id"])
            fresh.append(entry)
    return fresh
