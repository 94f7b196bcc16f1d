"""Benchmark: one wave's tick through Prefect, on one and on two task workers.

    python -m bench.prefect_dispatch_bench [--requests 50000] [--limit 4]

Everything real and on this machine: a Prefect server on PostgreSQL (its own
database), reconsent on PostgreSQL, the SendGrid emulator in its own process, the
official SendGrid SDK. ``--requests`` e-mail requests, due at once, in batches of
``RECONSENT_DISPATCH_BATCH_SIZE`` (1,000). Each case has a fresh copy of the wave:

1. **bare pipeline**: the same messages with no database: build each message and
   sign its links, render and post to SendGrid in chunks of 1,000, ``--limit``
   threads in one process (the contexts are read once, before the clock starts);
2. **dispatcher, no Prefect**: the product's dispatcher over every due batch,
   ``--limit`` threads in one process (claim, send, record);
3. **tick, 1 task worker**: ``reconsent wave tick`` (a Prefect flow run) submitting
   its batches as task runs to one ``reconsent worker --limit L`` process;
4. **tick, 2 task workers**: the same with two worker processes.

Prefect's own overhead per batch = (tick on one worker - dispatcher without Prefect,
the same threads) / batches. The tick's time is its flow run's, as the Prefect
server recorded it (start to end); the process's wall time (Python start-up and
imports included) is reported too. Every case is checked at the emulator: every
request delivered once. Results: bench/results/prefect-dispatch.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.dispatch_bench import API_KEY, _prepare, _settings, _stats, product_env
from bench.emulator_server import emulator_process

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000


def _env(settings: Any, prefect_env: dict[str, str], limit: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RECONSENT_", "PREFECT_"))}
    return {
        **keep,
        **prefect_env,
        **product_env(settings),
        "RECONSENT_DISPATCH_BATCH_SIZE": str(BATCH),
        "RECONSENT_TICK_BATCH_RUNNER": "task-workers",
        "RECONSENT_TICK_CONCURRENCY": str(4 * limit),  # enough ahead for two workers
    }


def _contexts(settings: Any, wave_id: int) -> dict[str, Any]:
    from models import Wave
    from reconsent.campaigns.notices import message_context
    from reconsent.db import make_engine, unit_of_work

    engine = make_engine(settings.database_url)
    with unit_of_work(engine) as session:
        wave = session.get_one(Wave, wave_id)
        found = {loc: message_context(session, wave, loc, settings) for loc in ("it", "en")}
    engine.dispose()
    return found


def _bare(settings: Any, wave_id: int, n: int, threads: int) -> float:
    """Build, sign, render and post ``n`` messages: no database at all."""
    from bench.dataset import NOW
    from reconsent.dispatch.message_links import Links
    from reconsent.kernel.vocab import Channel
    from reconsent.wiring import build_adapter

    contexts = _contexts(settings, wave_id)
    adapter = build_adapter(settings, Channel.EMAIL)
    links = Links.issued_at(settings.portal_base_url, settings.link_signing_keys(), NOW)

    class Person:
        def __init__(self, i: int) -> None:
            self.email, self.phone, self.given_name = f"user{i}@example.com", None, "Anna"

    def chunk(start: int) -> None:
        stop = min(n, start + BATCH) + 1
        messages = [
            links.build(i, i, 0, Person(i), Channel.EMAIL, contexts["it" if i % 3 else "en"])
            for i in range(start + 1, stop)
        ]
        for locale in ("it", "en"):  # the dispatcher posts one call per locale too
            part = [m for m in messages if m.context.locale == locale]
            if part:
                adapter.send(part)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(chunk, range(0, n, BATCH)))
    return time.perf_counter() - started


def _direct(settings: Any, wave_id: int, threads: int) -> tuple[float, int]:
    """The product's dispatcher over every due batch, ``threads`` at once, no Prefect."""
    from bench.dataset import NOW
    from reconsent.db import make_engine
    from reconsent.dispatch.dispatcher import Dispatcher
    from reconsent.wiring import build_adapters

    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(engine, settings, build_adapters(settings))
    started = time.perf_counter()
    ranges = dispatcher.due_ranges(wave_id, NOW, BATCH)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda r: dispatcher.advance(wave_id, r[0], r[1], NOW), ranges))
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, len(ranges)


def _tick(
    env: dict[str, str], wave_id: int, workers: int, limit: int, logs: Path
) -> dict[str, Any]:
    """One tick through Prefect with ``workers`` task workers; its flow run's times."""
    from bench.dataset import NOW
    from tests.support.prefect_server import task_workers

    reconsent = str(Path(sys.executable).with_name("reconsent"))
    with task_workers(env, workers, limit, logs):
        started = time.perf_counter()
        done = subprocess.run(
            [reconsent, "wave", "tick", str(wave_id), "--now", NOW.isoformat(), "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        wall = time.perf_counter() - started
    result = json.loads(done.stdout)
    runs = httpx.post(
        f"{env['PREFECT_API_URL']}/flow_runs/filter",
        json={"flow_runs": {"name": {"like_": "-tick"}}, "sort": "START_TIME_DESC", "limit": 1},
    ).json()
    start, end = (datetime.fromisoformat(runs[0][k]) for k in ("start_time", "end_time"))
    sent = result["activity"]["sent"].get("email", 0)
    return {"seconds": (end - start).total_seconds(), "wall": wall, "sent": sent}


def bench(n: int, limit: int) -> dict[str, Any]:
    from tests.support.postgres import running_postgres
    from tests.support.prefect_server import prefect_on_postgres

    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with (
        emulator_process(API_KEY) as sendgrid,
        tempfile.TemporaryDirectory() as tmp,
        running_postgres() as pg,
        prefect_on_postgres(pg, Path(tmp)) as prefect,
    ):
        import psycopg

        names = ("bench_bare", "bench_direct", "bench_tick1", "bench_tick2")
        with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
            for name in names:
                conn.execute(f"CREATE DATABASE {name}")
        waves = {}
        for name in names:
            settings = _settings(pg.url(name), tmp, sendgrid)
            waves[name] = (settings, _prepare(settings.database_url, n))

        def case(label: str, run: Any) -> dict[str, Any]:
            before = _stats(sendgrid)
            row = {"case": label, **run()}
            after = _stats(sendgrid)
            row["delivered"] = after["personalizations"] - before["personalizations"]
            row["per_second"] = round(n / row["seconds"])
            rows.append(row)
            print(json.dumps(row), flush=True)
            return row

        settings, wave_id = waves["bench_bare"]
        case(
            f"bare pipeline (no database), {limit} threads",
            lambda: {"seconds": _bare(settings, wave_id, n, limit)},
        )
        settings, wave_id = waves["bench_direct"]

        def direct() -> dict[str, Any]:
            seconds, batches = _direct(settings, wave_id, limit)
            return {"seconds": seconds, "batches": batches}

        case(f"dispatcher without Prefect, {limit} threads", direct)
        for workers in (1, 2):
            settings, wave_id = waves[f"bench_tick{workers}"]
            env = _env(settings, prefect.env(), limit)
            case(
                f"tick as a Prefect flow run, {workers} task worker(s) x {limit}",
                lambda env=env, wave_id=wave_id, workers=workers: _tick(
                    env, wave_id, workers, limit, Path(tmp)
                ),
            )
    return {"requests": n, "limit": limit, "load": [load_before, os.getloadavg()], "rows": rows}


def write(result: dict[str, Any]) -> None:
    rows = result["rows"]
    bare, direct, one, two = (r["seconds"] for r in rows)
    batches = rows[1]["batches"]
    summary = {
        "one_worker_vs_bare": round(bare / one, 3),
        "two_workers_speed_up": round(one / two, 3),
        "prefect_overhead_per_batch_ms": round(1000 * (one - direct) / batches, 1),
        "batches": batches,
    }
    result["summary"] = summary
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "prefect-dispatch.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"{result['requests']:,} e-mail requests, batches of {BATCH:,} ({batches} batches); "
        f"load average before {result['load'][0][0]:.2f}, after {result['load'][1][0]:.2f}.",
        "",
        "| case | seconds | messages/s | process wall s | delivered at the emulator |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        wall = f"{r['wall']:.2f}" if "wall" in r else "-"
        lines.append(
            f"| {r['case']} | {r['seconds']:.2f} | {r['per_second']:,} | {wall} | "
            f"{r['delivered']:,} |"
        )
    lines += [
        "",
        f"- one-worker tick / bare pipeline: **{summary['one_worker_vs_bare']:.0%}** "
        "(target >= 50%)",
        f"- two workers vs one: **{summary['two_workers_speed_up']:.2f}x** (target > 1)",
        f"- Prefect's own overhead per batch: **{summary['prefect_overhead_per_batch_ms']} ms** "
        "((tick on one worker - dispatcher without Prefect) / batches)",
    ]
    (RESULTS / "prefect-dispatch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=4, help="threads per worker process")
    args = parser.parse_args()
    write(bench(args.requests, args.limit))


if __name__ == "__main__":
    main()
