"""Benchmark: dispatching 100,000 e-mail requests end to end.

    python -m bench.dispatch_bench [--requests 100000] [--workers 2]

For each target, a fresh database with N stale contacts and a planned one-step
e-mail wave; then the time for the dispatcher to claim, render, sign, send and
record every request, in batches of 1,000 (what one tick's tasks do) shared out
between ``--workers`` dispatcher processes (interleaved id ranges, each process
with its own engine and adapters, as a tick's batch tasks on two workers), through:

- the file outbox (real .eml files on disk), SQLite;
- the SendGrid adapter (official SDK) against the SendGrid emulator running in
  its own process, on SQLite and on PostgreSQL.

The whole tick as a Prefect flow run is measured once too (SendGrid, SQLite),
to show the orchestration overhead. Results: bench/results/dispatch.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.emulator_server import emulator_process

RESULTS = Path(__file__).resolve().parent / "results"
API_KEY = "SG.bench-key"


def _prepare(url: str, n: int) -> int:
    """n contacts with a stale e-mail consent, a one-step e-mail wave, planned."""
    from bench.dataset import NOW
    from models import Wave
    from reconsent.campaigns.waves import create_wave
    from reconsent.db import make_engine, unit_of_work, upgrade
    from reconsent.kernel.waveconfig import parse_wave_config
    from reconsent.planning.planner import plan_wave

    upgrade(url)
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    at = NOW - timedelta(days=800)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO purposes (id, code, category, channel, lawful_basis, lifetime_months,"
                " titles, descriptions, created_at) VALUES (1, 'marketing_email',"
                " 'marketing', 'email', 'consent', 24, :t, :d, :at)"
            ),
            {
                "t": json.dumps({"it": "Offerte via email", "en": "Offers by email"}),
                "d": json.dumps({"it": "Offerte e novità.", "en": "Offers and news."}),
                "at": NOW,
            },
        )
        for locale in ("it", "en"):
            conn.execute(
                text(
                    "INSERT INTO notices (version, locale, title, body_html, digest,"
                    " published_at, effective_from) VALUES ('2026-09', :l, 't', 'b', 'd', :at, :at)"
                ),
                {"l": locale, "at": NOW},
            )
        stamp = NOW.replace(tzinfo=None).isoformat(sep=" ") if sqlite else NOW
        old = at.replace(tzinfo=None).isoformat(sep=" ") if sqlite else at
        conn.execute(
            text(
                "INSERT INTO contacts (id, external_id, subject_id, given_name, family_name, email,"
                " email_hash, locale, timezone, created_at, updated_at) VALUES (:id, :x, :s, 'Anna',"
                " 'Rossi', :e, :h, :l, 'Europe/Rome', :at, :at)"
            ),
            [
                {
                    "id": i,
                    "x": f"X{i}",
                    "s": f"s-{i}",
                    "e": f"user{i}@example.com",
                    "h": f"h{i}",
                    "l": "it" if i % 3 else "en",
                    "at": stamp,
                }
                for i in range(1, n + 1)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO consent_events (id, event_id, contact_id, subject_id, purpose_id,"
                " state, occurred_at, recorded_at, controller, jurisdiction, method, actor,"
                " evidence, provable, hash, hash_version) VALUES (1, 'e1', 1, 's-1', 1, 'given',"
                " :at, :at, 'C', 'IT', 'imported', 'bench', '{}', true, 'x', 2)"
            ),
            {"at": old},
        )
        conn.execute(
            text(
                "INSERT INTO consent_status (contact_id, purpose_id, state, occurred_at, expires_at,"
                " notice_version, provable, last_event_id) VALUES (:c, 1, 'given', :at, NULL,"
                " '2026-09', true, 1)"
            ),
            [{"c": i, "at": old} for i in range(1, n + 1)],
        )
    config = parse_wave_config(
        {
            "name": "Dispatch benchmark",
            "purposes": ["marketing_email"],
            "notice_version": "2026-09",
            "steps": [{"channel": "email", "wait": "3d"}],
        }
    )
    with unit_of_work(engine) as session:
        wave = create_wave(session, config, NOW)
        plan_wave(session, session.get_one(Wave, wave.id), NOW)
        wave_id = wave.id
    engine.dispose()
    return wave_id


def _settings(url: str, tmp: str, sendgrid: str | None) -> Any:
    from reconsent.settings import Settings

    values: dict[str, Any] = {
        "database_url": url,
        "data_dir": f"{tmp}/var",
        "signing_keys": ["bench-key"],
        "address_hash_key": "bench",
        "portal_base_url": "https://consent.example.it",
        "channel_mode": "outbox",
        "dispatch_batch_size": 1000,
    }
    if sendgrid:
        values.update(
            {
                "channel_mode": "providers",
                "sendgrid_api_key": API_KEY,
                "sendgrid_api_host": sendgrid,
                "twilio_account_sid": "AC" + "0" * 32,
                "twilio_auth_token": "x",
                "sms_from": "Bench",
                "voice_from": "+390212345678",
            }
        )
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _advance(settings: Any, wave_id: int, ranges: list[tuple[int, int]]) -> None:
    """One dispatcher (its own engine and adapters) over some batches of the wave."""
    from bench.dataset import NOW
    from reconsent.db import make_engine
    from reconsent.dispatch.dispatcher import Dispatcher
    from reconsent.wiring import build_adapters

    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(engine, settings, build_adapters(settings))
    for lo, hi in ranges:
        dispatcher.advance(wave_id, lo, hi, NOW)
    engine.dispose()


def _dispatch(settings: Any, wave_id: int, workers: int) -> float:
    """Seconds to dispatch every due request: the batches (id ranges) shared out,
    interleaved, between ``workers`` processes, as a tick's batch tasks would be."""
    from bench.dataset import NOW
    from reconsent.db import make_engine
    from reconsent.dispatch.dispatcher import Dispatcher
    from reconsent.wiring import build_adapters  # noqa: F401 - imported before forking

    engine = make_engine(settings.database_url)
    started = time.perf_counter()
    ranges = Dispatcher(engine, settings, {}).due_ranges(wave_id, NOW, settings.dispatch_batch_size)
    engine.dispose()
    if workers == 1:
        _advance(settings, wave_id, ranges)
    else:
        fork = multiprocessing.get_context("fork")
        procs = [
            fork.Process(target=_advance, args=(settings, wave_id, ranges[i::workers]))
            for i in range(workers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode != 0 for proc in procs):
            raise RuntimeError("a dispatcher process failed")
    return time.perf_counter() - started


def product_env(settings: Any) -> dict[str, str]:
    """The ``RECONSENT_*`` environment of ``settings`` (a tick or worker process's)."""
    return {
        "RECONSENT_DATABASE_URL": settings.database_url,
        "RECONSENT_DATA_DIR": str(settings.data_dir),
        "RECONSENT_SIGNING_KEYS": "bench-key",
        "RECONSENT_ADDRESS_HASH_KEY": "bench",
        "RECONSENT_EVIDENCE_KEY": "bench-evidence",
        "RECONSENT_PORTAL_BASE_URL": settings.portal_base_url,
        "RECONSENT_CHANNEL_MODE": "providers",
        "RECONSENT_SENDGRID_API_KEY": API_KEY,
        "RECONSENT_SENDGRID_API_HOST": settings.sendgrid_api_host,
        "RECONSENT_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "RECONSENT_TWILIO_AUTH_TOKEN": "x",
        "RECONSENT_SMS_FROM": "Bench",
        "RECONSENT_VOICE_FROM": "+390212345678",
    }


def _flow(settings: Any, wave_id: int) -> float:
    from bench.dataset import NOW

    os.environ.update(
        {
            **product_env(settings),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    from flows.wave_tick import wave_tick

    wave_tick(wave_id, NOW - timedelta(days=1))  # warm the temporary server; nothing is due yet
    started = time.perf_counter()
    wave_tick(wave_id, NOW)
    return time.perf_counter() - started


def _stats(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/__stats", timeout=30).json())


def bench(n: int, workers: int) -> list[dict[str, Any]]:
    from tests.support.postgres import running_postgres

    rows: list[dict[str, Any]] = []
    with (
        emulator_process(API_KEY) as sendgrid,
        tempfile.TemporaryDirectory() as tmp,
        running_postgres() as pg,
    ):
        import psycopg

        with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
            for name in ("bench_sg", "bench_flow"):
                conn.execute(f"CREATE DATABASE {name}")
        cases = [
            ("file outbox", "SQLite", f"sqlite:///{tmp}/outbox.db", None),
            ("SendGrid adapter + emulator", "SQLite", f"sqlite:///{tmp}/sendgrid.db", sendgrid),
            ("SendGrid adapter + emulator", "PostgreSQL 15", pg.url("bench_sg"), sendgrid),
        ]
        for channel, database, url, host in cases:
            wave_id = _prepare(url, n)
            before = _stats(sendgrid)
            seconds = _dispatch(_settings(url, tmp, host), wave_id, workers)
            after = _stats(sendgrid)
            row = {
                "path": channel,
                "database": database,
                "processes": workers,
                "requests": n,
                "seconds": round(seconds, 2),
                "per_second": round(n / seconds),
                "provider_calls": after["calls"] - before["calls"],
                "delivered": after["personalizations"] - before["personalizations"],
            }
            if host is None:
                row["delivered"] = sum(1 for _ in Path(f"{tmp}/var/outbox/email").glob("*.eml"))
            rows.append(row)
            print(json.dumps(row), flush=True)
        url = f"sqlite:///{tmp}/flow.db"
        wave_id = _prepare(url, n)
        seconds = _flow(_settings(url, tmp, sendgrid), wave_id)
        rows.append(
            {
                "path": "SendGrid, whole tick as a Prefect flow run",
                "database": "SQLite",
                "processes": 1,
                "requests": n,
                "seconds": round(seconds, 2),
                "per_second": round(n / seconds),
                "provider_calls": None,
                "delivered": None,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def write(rows: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dispatch.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "| path | database | processes | requests | seconds | messages/s | provider calls |"
        " delivered |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['database']} | {r['processes']} | {r['requests']:,} | "
            f"{r['seconds']} | "
            f"{r['per_second']:,} | {r['provider_calls'] if r['provider_calls'] is not None else '-'} | "
            f"{r['delivered'] if r['delivered'] is not None else '-'} |"
        )
    (RESULTS / "dispatch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="dispatcher processes sharing the batches"
    )
    args = parser.parse_args()
    write(bench(args.requests, args.workers))


if __name__ == "__main__":
    main()
