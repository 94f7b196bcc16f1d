"""Benchmark: planning a wave over 1,000,000 contacts on SQLite and PostgreSQL.

    python -m bench.planning_bench [--contacts 1000000] [--databases sqlite,postgres]
                                   [--out planning]

    python -m bench.planning_bench --contacts 10000000 --databases postgres --out planning-10m

For each database: bulk-load the synthetic base (bench/dataset.py), then in
fresh processes (so peak RSS is the planner's own) time

- **reference**: one raw ``INSERT ... SELECT`` of the stale/missing contacts
  (consent aggregate + suppression anti-join), the floor any planner pays;
- **reconsent**: ``plan_wave`` as a tick runs it: the full preflight
  (every exclusion reason, per-channel reachability) plus request creation.

Results: bench/results/planning.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

RESULTS = Path(__file__).resolve().parent / "results"

REFERENCE_SQL = """
INSERT INTO bench_reference (contact_id)
SELECT c.id FROM contacts c
LEFT JOIN (
  SELECT contact_id,
         SUM(CASE WHEN state = 'given' AND occurred_at >= :cutoff AND purpose_id IN (1, 2, 3)
                   AND notice_version <> '2024-01' THEN 1 ELSE 0 END) AS fresh,
         MAX(CASE WHEN state IN ('refused', 'withdrawn') THEN 1 ELSE 0 END) AS negative
  FROM consent_status GROUP BY contact_id
) a ON a.contact_id = c.id
WHERE COALESCE(a.negative, 0) = 0 AND COALESCE(a.fresh, 0) < 3
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.channel IS NULL
                  AND (s.address_hash = c.email_hash OR s.address_hash = c.phone_hash))
"""


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that across
    fork+exec, so a worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu_seconds(engine: Any) -> float:
    """CPU time of this process plus, on PostgreSQL, of the pooled connection's server
    backend (the server runs on this machine): less sensitive than wall time to the
    other work on a shared machine."""
    own = time.process_time()
    if engine.dialect.name == "sqlite":
        return own
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(mode: str, url: str) -> dict[str, Any]:
    from reconsent.db import make_engine, unit_of_work

    engine = make_engine(url, pool_size=1, max_overflow=0)  # one backend to account for
    cpu_before = _cpu_seconds(engine)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    if mode == "reference":
        from bench.dataset import NOW

        with engine.begin() as conn:
            cutoff = NOW.replace(year=NOW.year - 1)
            conn.execute(
                text(REFERENCE_SQL),
                {
                    "cutoff": cutoff
                    if engine.dialect.name != "sqlite"
                    else cutoff.replace(tzinfo=None).isoformat(sep=" ")
                },
            )
            rows = conn.execute(text("SELECT count(*) FROM bench_reference")).scalar_one()
        result: dict[str, Any] = {"rows": rows}
    else:
        from bench.dataset import NOW
        from models import Wave
        from reconsent.planning.planner import plan_wave

        with unit_of_work(engine) as session:
            wave = session.get_one(Wave, 1)
            report = plan_wave(session, wave, NOW)
        result = {"rows": report.created, "excluded": report.excluded, "eligible": report.eligible}
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["cpu_seconds"] = round(_cpu_seconds(engine) - cpu_before, 2)
    result["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["peak_rss_mb"] = peak_rss_mb()
    engine.dispose()
    return result


def _run_worker(mode: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.planning_bench", "--worker", mode, url],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _prepare(url: str, contacts: int) -> dict[str, Any]:
    from bench.dataset import NOW, load
    from reconsent.campaigns.waves import create_wave
    from reconsent.db import make_engine, unit_of_work, upgrade
    from reconsent.kernel.waveconfig import parse_wave_config

    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    counts = load(engine, contacts)
    load_seconds = round(time.perf_counter() - started, 1)
    config = parse_wave_config(
        {
            "name": "Benchmark wave",
            "purposes": ["marketing_email", "marketing_sms", "marketing_phone"],
            "notice_version": "2026-09",
            "stale": {
                "stale_after_days": 365,
                "old_notice_versions": ["2024-01"],
                "unprovable_is_stale": False,
            },
            "lawful_basis": {"email": "soft_spam"},
            "steps": [
                {"channel": "email", "wait": "3d"},
                {"channel": "sms", "wait": "2d"},
                {"channel": "ivr", "wait": "2d"},
            ],
        }
    )
    with unit_of_work(engine) as session:
        create_wave(session, config, NOW)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_reference (contact_id INTEGER)"))
    engine.dispose()
    return {**counts, "load_seconds": load_seconds}


def bench(
    contacts: int, databases: tuple[str, ...] = ("sqlite", "postgres")
) -> list[dict[str, Any]]:
    from tests.support.postgres import running_postgres

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.db")] if "sqlite" in databases else []
        with running_postgres() as server:
            import psycopg

            with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            if "postgres" in databases:
                targets.append(("PostgreSQL 15", server.url("bench")))
            for name, url in targets:
                prepared = _prepare(url, contacts)
                reference = _run_worker("reference", url)
                ours = _run_worker("plan", url)
                rows.append(
                    {
                        "database": name,
                        **prepared,
                        "reference": reference,
                        "reconsent": ours,
                        "ratio": round(ours["seconds"] / reference["seconds"], 2),
                        "cpu_ratio": round(ours["cpu_seconds"] / reference["cpu_seconds"], 2),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def write(rows: list[dict[str, Any]], out: str = "planning") -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(rows, indent=2))
    lines = [
        "| database | contacts | consent rows | raw INSERT...SELECT | reconsent plan_wave | ratio | "
        "CPU ratio | requests created | peak RSS (plan) | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['database']} | {r['contacts']:,} | {r['consent_rows']:,} | "
            f"{r['reference']['seconds']} s ({r['reference']['rows']:,} rows) | "
            f"{r['reconsent']['seconds']} s | {r['ratio']}x | {r['cpu_ratio']}x | "
            f"{r['reconsent']['rows']:,} | {r['reconsent']['peak_rss_mb']} MB | "
            f"{r['reference']['load_1min'][0]}-{r['reconsent']['load_1min'][1]} |"
        )
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--out", default="planning", help="bench/results/OUT.md and OUT.json")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "URL"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return
    write(bench(args.contacts, tuple(args.databases.split(","))), args.out)


if __name__ == "__main__":
    main()
