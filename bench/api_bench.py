"""The operator API under load, on PostgreSQL with a synthetic base (default 1,000,000).

    python -m bench.api_bench        # or `make bench`; needs wrk (Debian: apt-get install wrk)

Seeds ``BENCH_CONTACTS`` contacts (``bench/dataset.py``: consent states over four
purposes, 50,000 suppression hashes, the product's keyed address hashes) and one RPO
consultation, makes one API key, serves the real API (``uvicorn --factory
operator_api.app:app_from_env``, ``WORKERS`` workers; once per ``BENCH_API_THREADS``,
default "8": a thread pool of 8; "8,0" also serves it inline on the event loop; a check
of one contact is always inline) and measures, in one run:

* **single check** (wrk, 64 connections): ``GET /api/v1/contactability?channel=ivr&phone=``
  for numbers of the base, against the ceilings of the portal benchmark served the
  same way: bare Starlette, and Starlette + one indexed SELECT (a contact by phone hash);
* **batch**: ``POST /api/v1/contactability`` with 10,000 numbers, ``BATCH_RUNS`` times
  one after the other (wall time per request as the client sees it);
* **operator capture** (wrk, 64 connections): ``POST /api/v1/consents``, one purpose
  per post (half given, half refused), each with its own Idempotency-Key; the
  decisions recorded in the ledger are counted.

Results: ``bench/results/api.md`` and ``api.json``. The throwaway PostgreSQL runs with
fsync off (as the test server does) and
``BENCH_PG_SHARED_BUFFERS`` (default 1GB) of shared buffers.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select, text

from bench.dataset import load
from bench.portal_bench import Server, _free_port, serving
from bench.portal_bench import run_wrk as portal_run_wrk

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua" / "api_cycle.lua"
RESULTS = ROOT / "bench" / "results"
CONTACTS = int(os.environ.get("BENCH_CONTACTS", "1000000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
BATCH_RUNS = int(os.environ.get("BENCH_BATCH_RUNS", "10"))
ADDRESS_KEY = "bench-address-key"
#: The API's thread pools measured, one server each ("0": inline on the event loop).
THREADS = os.environ.get("BENCH_API_THREADS", "8").split(",")
#: The server is sized for its base, as a production one is: the default 128 MB of the
#: test server holds a fraction of a million contacts' rows and indexes (~700 MB).
SHARED_BUFFERS = os.environ.get("BENCH_PG_SHARED_BUFFERS", "1GB")


def run_wrk(server: Server, lines: Path, key: str, seconds: int = SECONDS) -> dict[str, Any]:
    """The portal benchmark's wrk run, with the API's script and key."""
    return portal_run_wrk(server, lines, CONNECTIONS, seconds, lua=LUA, extra=(key,))


def seed(url: str, data_dir: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """The base, one consultation and a key; (key, [(external id, phone, phone hash)])."""
    from reconsent.db import make_engine, unit_of_work, upgrade
    from reconsent.kernel.rules.addresses import address_hash
    from reconsent.kernel.vocab import AddressKind
    from reconsent.operators.api_keys import create_key

    def hasher(value: str) -> str:
        kind = AddressKind.EMAIL if "@" in value else AddressKind.PHONE
        return address_hash(ADDRESS_KEY.encode(), kind, value)

    upgrade(url)
    engine = make_engine(url)
    started = time.monotonic()
    counts = load(engine, CONTACTS, hasher=hasher)
    print(f"-- loaded {counts} in {time.monotonic() - started:.0f} s", flush=True)
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        session.execute(
            text(
                "INSERT INTO rpo_consultations (consulted_at, source, numbers, imported_at)"
                " VALUES (:at, 'bench', 0, :at)"
            ),
            {"at": now},
        )
        key = create_key(
            session, "bench", "contactability:read,consents:write,export:read", now
        ).key
        people = session.execute(
            text(
                "SELECT external_id, phone, phone_hash FROM contacts"
                " WHERE phone IS NOT NULL ORDER BY random() LIMIT 40000"
            )
        ).all()
    engine.dispose()
    return key, [(e, p, h) for e, p, h in people]


def write_lines(folder: Path, people: list[tuple[str, str, str]]) -> dict[str, Path]:
    files = {name: folder / f"{name}.txt" for name in ("check", "select", "capture")}
    files["check"].write_text(
        "".join(
            f"/api/v1/contactability?channel=ivr&phone={p.replace('+', '%2B')}\n"
            for _, p, _ in people
        )
    )
    files["select"].write_text("".join(f"/?h={h}\n" for _, _, h in people))
    rng = random.Random(14)
    posts = []
    for n, (external_id, _, _) in enumerate(people):
        body = {
            "contact": {"external_id": external_id},
            "agent_id": f"agent-{n % 40}",
            "call_id": f"bench-{n}",
            "notice_version": "2026-09",
            "choices": [
                {"purpose": "marketing_phone", "decision": rng.choice(["given", "refused"])}
            ],
        }
        posts.append(f"/api/v1/consents\t{json.dumps(body)}\tbench-{n}\n")
    files["capture"].write_text("".join(posts))
    return files


def _split(lines: Path, parts: int) -> list[Path]:
    """Disjoint shares of a lines file (a capture line is never posted twice)."""
    every = lines.read_text().splitlines(keepends=True)
    share = len(every) // parts
    out = []
    for n in range(parts):
        path = lines.with_name(f"{lines.stem}-{n}.txt")
        path.write_text("".join(every[n * share : (n + 1) * share]))
        out.append(path)
    return out


def batch_runs(base: str, key: str, people: list[tuple[str, str, str]]) -> dict[str, Any]:
    contacts = [{"phone": p} for _, p, _ in people[:10_000]]
    body = json.dumps({"channel": "ivr", "contacts": contacts})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in range(BATCH_RUNS + 1):
            started = time.perf_counter()
            answer = client.post("/api/v1/contactability", content=body)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and len(answer.json()["answers"]) == len(contacts)
    runs = times[1:]  # the first warms the worker
    allowed = sum(a["allowed"] for a in answer.json()["answers"])
    return {
        "numbers": len(contacts),
        "median_ms": round(statistics.median(runs), 1),
        "max_ms": round(max(runs), 1),
        "numbers_per_s": round(len(contacts) / (statistics.median(runs) / 1000)),
        "allowed_in_last": allowed,
    }


def operator_events(url: str) -> int:
    from models import ConsentEvent
    from reconsent.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(ConsentEvent)
            return int(conn.execute(query.where(ConsentEvent.method == "operator")).scalar_one())
    finally:
        engine.dispose()


def _row(test: str, result: dict[str, Any]) -> dict[str, Any]:
    row = {"test": test, **result}
    print(row, flush=True)
    return row


def measure(url: str, work: Path) -> list[dict[str, Any]]:
    key, people = seed(url, work / "var")
    files = write_lines(work, people)
    env = {
        "RECONSENT_DATABASE_URL": url,
        "RECONSENT_DATA_DIR": str(work / "var"),
        "RECONSENT_SIGNING_KEYS": "bench-signing-key",
        "RECONSENT_ADDRESS_HASH_KEY": ADDRESS_KEY,
        "RECONSENT_EVIDENCE_KEY": "bench-evidence-key",  # identifying evidence sealed per person
        "RECONSENT_API_FREQUENCY_CAP": "3",  # the cap's query runs too
    }
    rows: list[dict[str, Any]] = []
    captures = _split(files["capture"], len(THREADS))
    for threads, capture in zip(THREADS, captures, strict=True):
        label = f" (api_threads={threads})"
        config = {**env, "RECONSENT_API_THREADS": threads}
        with serving("operator_api.app:app_from_env", config, _free_port(), work) as server:
            run_wrk(server, files["check"], key, 3)  # warm-up
            rows.append(_row("single check GET" + label, run_wrk(server, files["check"], key)))
            batch = batch_runs(server.base, key, people)
            rows.append(_row("batch of 10,000 POST" + label, batch))
            before = operator_events(url)
            result = run_wrk(server, capture, key)
            result["decisions"] = operator_events(url) - before
            result["decisions_per_s"] = round(result["decisions"] / SECONDS, 1)
            rows.append(_row("operator capture POST" + label, result))
    ceiling = {"BENCH_DATABASE_URL": url}
    with serving("bench.ceiling_apps:select_app", ceiling, _free_port(), work) as server:
        run_wrk(server, files["select"], key, 2)
        rows.append(
            _row("ceiling: Starlette + 1 indexed SELECT", run_wrk(server, files["select"], key))
        )
    (work / "bare.txt").write_text("/\n")
    with serving("bench.ceiling_apps:bare_app", {}, _free_port(), work) as server:
        run_wrk(server, work / "bare.txt", key, 2)
        rows.append(_row("ceiling: bare Starlette", run_wrk(server, work / "bare.txt", key)))
    return rows


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Operator API benchmark",
        "",
        f"{meta['when']}, {meta['cpus']} cores, Python {meta['python']}, PostgreSQL, "
        f"{meta['contacts']:,} contacts, {meta['workers']} uvicorn workers, "
        f"{CONNECTIONS} connections, {meta['seconds']} s per run, shared_buffers "
        f"{meta['shared_buffers']}, load {meta['load']}.",
        "",
        "| test | answers/s | p50 ms | p99 ms | non-2xx | server CPU ms/req | other |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "rps" in row:
            other = f"{row['decisions_per_s']} decisions/s" if "decisions_per_s" in row else ""
            lines.append(
                f"| {row['test']} | {row['rps']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
                f"| {row['non_2xx']} | {row['server_cpu_ms']} | {other} |"
            )
        else:
            lines.append(
                f"| {row['test']} | {row['numbers_per_s']} numbers/s | {row['median_ms']} "
                f"(median) | {row['max_ms']} (max) | 0 | | {row['numbers']} numbers a request |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    from tests.support.postgres import running_postgres

    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode:
        sys.exit("wrk not found: `make bench` installs it (Debian: apt-get install -y wrk)")
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="reconsent-api-bench-") as tmp,
        running_postgres([f"shared_buffers={SHARED_BUFFERS}"]) as pg,
    ):
        work = Path(tmp)
        with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        rows = measure(pg.url("bench"), work)
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "contacts": CONTACTS,
        "seconds": SECONDS,
        "workers": int(os.environ.get("BENCH_WORKERS", "2")),
        "shared_buffers": SHARED_BUFFERS,
        "api_threads": THREADS,
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    report = markdown(rows, meta)
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (RESULTS / "api.md").write_text(report)


if __name__ == "__main__":
    main()
