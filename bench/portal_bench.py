"""Consent portal throughput and latency under wrk, on SQLite and PostgreSQL.

    python -m bench.portal_bench        # or `make bench`; needs wrk (Debian: apt-get install wrk)

For each database it seeds the example catalog and wave with ``PEOPLE``
people, one request each, then serves the real portal (``uvicorn --factory
consent_portal.app:app_from_env``, one worker) and measures at 16 and 64
connections (wrk, 2 threads, on the same 2 cores):

* **landing GET**: verify the signed link, load the request, render the
  notice and one Yes/No pair per purpose with a fresh CSRF token;
* **decision POST**: verify the link and the CSRF token, record one event per
  purpose with its evidence (hash chain, projection, request closed), render
  the confirmation page.  Every POST carries its own, never-used form nonce
  (forms issued with the portal's own keys, exactly as the landing page would
  issue them), so every request is a genuine new decision, never a replay;
  the decisions recorded in the database are counted and checked against
  wrk's count.

In the same run, the two ceilings: a bare Starlette endpoint, and a
Starlette endpoint that inserts one row into the same database
(``bench/ceiling_apps.py``).  Results: ``bench/results/portal.md`` and
``portal.json``.  The throwaway PostgreSQL runs with fsync off (as the test
server does); SQLite runs in WAL mode with synchronous=NORMAL.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from sqlalchemy import func, insert, select

from bench.portal_report import CONNECTIONS, markdown

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua" / "cycle.lua"
RESULTS = ROOT / "bench" / "results"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "60000"))
#: uvicorn worker processes of the portal and of both ceilings (the same for all three).
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
#: uvicorn's event loop.  uvloop, as uvicorn picks by default: with several workers,
#: asyncio's accepted sockets answered after ~40 ms (Nagle and delayed ACKs) here.
LOOP = os.environ.get("BENCH_LOOP", "uvloop")
#: Which databases to measure (comma-separated), for a quicker partial run.
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
KEYS = "bench-signing-key"
#: The decision posted: the example wave's three purposes, two given, one refused.
CHOICES = {"p.marketing_email": "yes", "p.marketing_sms": "no", "p.marketing_phone": "yes"}


# --- wrk --------------------------------------------------------------------------------


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms), requests, non-2xx and socket errors from wrk's output."""
    percent = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", text, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)$", text, re.M)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(percent["50"]),
        "p99_ms": _ms(percent["99"]),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def run_wrk(
    server: Server,
    lines: Path,
    connections: int,
    seconds: int = SECONDS,
    *,
    lua: Path = LUA,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One wrk run (``lua`` reads ``lines``, then ``extra`` arguments); adds the server
    process's CPU time per request (ms), which a busy, shared machine moves much less
    than the throughput."""
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
        "-s", str(lua), server.base, "--", str(lines), "2", *extra,
    ]  # fmt: skip
    cpu_before = server.cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    cpu = server.cpu_seconds() - cpu_before
    try:
        result = parse_wrk(out.stdout)
    except (AttributeError, KeyError):
        raise RuntimeError(f"unexpected wrk output:\n{out.stdout}\n{out.stderr}") from None
    result["server_cpu_ms"] = round(cpu * 1000 / max(1, result["requests"]), 3)
    return result


# --- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server and its worker processes (Linux /proc)."""
        total = 0
        for pid in _tree(self.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found += _tree(int(child))
    return found


@contextmanager
def serving(target: str, env: dict[str, str], port: int, cwd: Path) -> Iterator[Server]:
    """``uvicorn --factory target`` (``WORKERS`` processes, httptools, ``LOOP``) until the
    block ends; yields its base URL."""
    command = [
        sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(WORKERS), "--http", "httptools", "--loop", LOOP,
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=full_env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{target} did not start") from None
                time.sleep(0.1)  # polling a starting server process, not a test
        yield Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- data ---------------------------------------------------------------------------------


def seed(url: str, data_dir: Path, people: int) -> list[tuple[int, str]]:
    """Catalog, the example wave and ``people`` contacts with a request each."""
    from models import Contact, WaveRequest
    from reconsent.campaigns.catalog_file import load_catalog
    from reconsent.campaigns.waves import create_wave
    from reconsent.db import make_engine, unit_of_work, upgrade
    from reconsent.kernel.vocab import RequestBasis, RequestStatus
    from reconsent.kernel.waveconfig import load_wave_config
    from reconsent.settings import Settings

    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, data_dir=data_dir)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        load_catalog(session, ROOT / "examples" / "catalog.toml", settings, now)
        wave_id = create_wave(session, load_wave_config(ROOT / "examples" / "wave.toml"), now).id
    contacts = [
        {
            "external_id": f"bench-{i}",
            "subject_id": str(uuid.uuid4()),
            "given_name": "Giulia" if i % 2 else "Oliver",
            "family_name": "Bench",
            "email": f"bench-{i}@example.com",
            "email_hash": uuid.uuid4().hex * 2,
            "locale": "it" if i % 2 else "en",
            "timezone": "Europe/Rome",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(people)
    ]
    with unit_of_work(engine) as session:
        session.execute(insert(Contact.__table__), contacts)
        ids = session.execute(select(Contact.id, Contact.locale).order_by(Contact.id)).all()
        session.execute(
            insert(WaveRequest.__table__),
            [
                {
                    "wave_id": wave_id,
                    "contact_id": contact_id,
                    "status": RequestStatus.ACTIVE.value,
                    "basis": RequestBasis.PRIOR_CONSENT.value,
                    "step_index": 0,
                    "next_action_at": now,
                    "created_at": now,
                }
                for contact_id, _locale in ids
            ],
        )
        rows = session.execute(
            select(WaveRequest.id, Contact.locale)
            .join(Contact, Contact.id == WaveRequest.contact_id)
            .order_by(WaveRequest.id)
        ).all()
    engine.dispose()
    return [(request_id, locale) for request_id, locale in rows]


def write_lines(folder: Path, requests: list[tuple[int, str]]) -> dict[str, Path]:
    """GET lines (every link), and POST lines in disjoint files, one per POST run."""
    from consent_portal.security import CsrfTokens
    from reconsent.kernel.links import LinkSigner, LinkUse, token_id

    signer, csrf = LinkSigner([KEYS]), CsrfTokens([KEYS])
    gets, posts = [], []
    for request_id, locale in requests:
        token = signer.sign(LinkUse.LANDING, request_id, 0)
        gets.append(f"/c/{token}")
        grant, signed = csrf.issue(token_id(token), locale)
        body = urlencode({"nonce": grant.nonce, "csrf": signed, "action": "save", **CHOICES})
        posts.append(f"/c/{token}\t{body}")
    files = {"get": folder / "get.txt"}
    files["get"].write_text("\n".join(gets) + "\n")
    warm, share = 2000, (len(posts) - 2000) // len(CONNECTIONS)
    chunks = {"post-warm": posts[:warm]}
    for n, conns in enumerate(CONNECTIONS):
        chunks[f"post-{conns}"] = posts[warm + n * share : warm + (n + 1) * share]
    for name, chunk in chunks.items():
        files[name] = folder / f"{name}.txt"
        files[name].write_text("\n".join(chunk) + "\n")
    (folder / "insert.txt").write_text("/\tpayload=x\n")
    files["insert"] = folder / "insert.txt"
    return files


def count_events(url: str) -> int:
    from models import ConsentEvent
    from reconsent.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(ConsentEvent)).scalar_one())
    finally:
        engine.dispose()


# --- one backend ----------------------------------------------------------------------------


def _row(backend: str, test: str, connections: int, result: dict[str, Any]) -> dict[str, Any]:
    row = {"backend": backend, "test": test, "connections": connections, **result}
    print(row, flush=True)
    return row


def measure_backend(backend: str, url: str, work: Path) -> list[dict[str, Any]]:
    print(f"-- {backend}: seeding {PEOPLE} people", flush=True)
    requests = seed(url, work / "var", PEOPLE)
    files = write_lines(work, requests)
    port = _free_port()
    env = {
        "RECONSENT_DATABASE_URL": url,
        "RECONSENT_DATA_DIR": str(work / "var"),
        "RECONSENT_SIGNING_KEYS": KEYS,
        "RECONSENT_ADDRESS_HASH_KEY": "bench-address-key",
        "RECONSENT_EVIDENCE_KEY": "bench-evidence-key",
        "RECONSENT_PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        "RECONSENT_CHANNEL_MODE": "outbox",
        # wrk is one client address: the limiter runs (and costs what it costs) but never bites.
        "RECONSENT_PORTAL_RATE_PER_IP": "1000000000",
        "RECONSENT_PORTAL_RATE_PER_TOKEN": "1000000",
    }
    rows: list[dict[str, Any]] = []
    with serving("consent_portal.app:app_from_env", env, port, work) as server:
        run_wrk(server, files["get"], 16, 3)  # warm-up
        for conns in CONNECTIONS:
            rows.append(_row(backend, "landing GET", conns, run_wrk(server, files["get"], conns)))
        run_wrk(server, files["post-warm"], 16, 2)
        for conns in CONNECTIONS:
            before = count_events(url)
            result = run_wrk(server, files[f"post-{conns}"], conns)
            decisions = (count_events(url) - before) // len(CHOICES)
            result["decisions"] = decisions
            result["decisions_per_s"] = round(decisions / SECONDS, 1)
            rows.append(_row(backend, "decision POST", conns, result))
    from bench.ceiling_apps import create_table

    create_table(url)
    port = _free_port()
    with serving(
        "bench.ceiling_apps:insert_app", {"BENCH_DATABASE_URL": url}, port, work
    ) as server:
        run_wrk(server, files["insert"], 16, 2)
        for conns in CONNECTIONS:
            result = run_wrk(server, files["insert"], conns)
            rows.append(_row(backend, "ceiling: Starlette + 1 insert", conns, result))
    return rows


def measure_bare(work: Path) -> list[dict[str, Any]]:
    (work / "bare.txt").write_text("/\n")
    port = _free_port()
    rows = []
    with serving("bench.ceiling_apps:bare_app", {}, port, work) as server:
        run_wrk(server, work / "bare.txt", 16, 2)
        for conns in CONNECTIONS:
            result = run_wrk(server, work / "bare.txt", conns)
            rows.append(_row("-", "ceiling: bare Starlette", conns, result))
    return rows


def measure_postgres(work: Path) -> list[dict[str, Any]]:
    from tests.support.postgres import running_postgres

    with running_postgres() as server:
        admin = server.url().replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        pg_dir = work / "postgres"
        pg_dir.mkdir()
        return measure_backend("postgres", server.url("bench"), pg_dir)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench` installs it (Debian: apt-get install -y wrk)")
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="reconsent-bench-") as tmp:
        work = Path(tmp)
        sqlite_dir = work / "sqlite"
        sqlite_dir.mkdir()
        if "sqlite" in BACKENDS:
            rows += measure_backend("sqlite", f"sqlite:///{sqlite_dir / 'bench.db'}", sqlite_dir)
        rows += measure_bare(sqlite_dir)
        if "postgres" in BACKENDS:
            rows += measure_postgres(work)
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "people": PEOPLE,
        "seconds": SECONDS,
        "workers": WORKERS,
        "http": "httptools",
        "loop": LOOP,
        # The machine may be shared: the 1-minute load average before and after the run.
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    report = markdown(rows, meta)
    print(report)
    if set(BACKENDS) >= {"sqlite", "postgres"}:  # a partial run never replaces the results
        RESULTS.mkdir(parents=True, exist_ok=True)
        document = json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
        (RESULTS / "portal.json").write_text(document)
        (RESULTS / "portal.md").write_text(report)


if __name__ == "__main__":
    main()
