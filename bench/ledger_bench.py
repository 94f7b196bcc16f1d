"""Benchmark: ``reconsent ledger verify`` over 1,000,000 consent events.

    python -m bench.ledger_bench [--events 1000000]

Builds valid hash chains (200,000 subjects x 5 events) in Python with the same
``event_hash`` the ledger uses, bulk-loads them (SQLite executemany, PostgreSQL
COPY), then times the full verification (every chain, plus the projection
check) in a fresh process, with its peak RSS. Results: bench/results/ledger.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.dataset import NOW
from bench.planning_bench import peak_rss_mb
from reconsent.kernel.rules.chain import event_hash

RESULTS = Path(__file__).resolve().parent / "results"
CODES = {1: "marketing_email", 2: "marketing_sms", 3: "marketing_phone", 4: "profiling"}
COLUMNS = (
    "id, event_id, contact_id, subject_id, purpose_id, state, occurred_at, recorded_at, expires_at,"
    " controller, jurisdiction, language, notice_version, notice_digest, method, channel, actor,"
    " evidence, provable, source, prev_hash, hash"
)


def _rows(events: int, sqlite: bool) -> list[tuple[Any, ...]]:
    rows = []
    per = 5
    for subject_no in range(events // per):
        subject = f"subject-{subject_no:08d}"
        prev: str | None = None
        for k in range(per):
            n = subject_no * per + k + 1
            at = NOW - timedelta(days=400 - k * 30, seconds=n % 997)
            fields = {
                "event_id": f"ev-{n:010d}",
                "subject_id": subject,
                "purpose": CODES[k % 4 + 1],
                "state": "given" if k % 3 else "refused",
                "occurred_at": at,
                "expires_at": None,
                "controller": "Bench S.r.l.",
                "jurisdiction": "IT",
                "language": "it",
                "notice_version": "2026-09",
                "notice_digest": "d" * 64,
                "method": "portal",
                "channel": "email",
                "actor": "subject",
                "wave_id": None,
                "request_id": None,
                "attempt_id": None,
                "provider_message_id": None,
                "evidence": {"ip": "203.0.113.0"},
                "provable": True,
                "source": None,
            }
            digest = event_hash(fields, prev)
            stamp = at.replace(tzinfo=None).isoformat(sep=" ") if sqlite else at
            rows.append(
                (
                    n,
                    fields["event_id"],
                    subject_no + 1,
                    subject,
                    k % 4 + 1,
                    fields["state"],
                    stamp,
                    stamp,
                    None,
                    "Bench S.r.l.",
                    "IT",
                    "it",
                    "2026-09",
                    "d" * 64,
                    "portal",
                    "email",
                    "subject",
                    json.dumps(fields["evidence"]),
                    True,
                    None,
                    prev,
                    digest,
                )
            )
            prev = digest
    return rows


def _load(url: str, events: int) -> float:
    from reconsent.db import make_engine, upgrade

    upgrade(url)
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    started = time.perf_counter()
    rows = _rows(events, sqlite)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if sqlite:  # before any statement: a PRAGMA inside a transaction is a no-op
            cur.execute("PRAGMA foreign_keys=OFF")
        for pid, code in CODES.items():
            conn.execute(
                text(
                    "INSERT INTO purposes (id, code, category, lawful_basis, lifetime_months,"
                    " titles, descriptions, created_at) VALUES (:i, :c, 'marketing', 'consent',"
                    " 24, '{}', '{}', :at)"
                ),
                {"i": pid, "c": code, "at": NOW},
            )
        if sqlite:
            cur.executemany(
                f"INSERT INTO consent_events ({COLUMNS}) VALUES ({','.join('?' * 22)})", rows
            )
        else:
            cur.execute("SET session_replication_role = replica")
            with cur.copy(f"COPY consent_events ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("SET session_replication_role = DEFAULT")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _worker(url: str) -> dict[str, Any]:
    from reconsent.ledger.verify import verify_ledger_parallel

    started = time.perf_counter()
    report = verify_ledger_parallel(url)
    seconds = time.perf_counter() - started
    return {
        "events": report.events,
        "subjects": report.subjects,
        "ok": report.ok,
        "seconds": round(seconds, 2),
        "events_per_second": round(report.events / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker)))
        return
    from tests.support.postgres import running_postgres

    results = []
    with tempfile.TemporaryDirectory() as tmp, running_postgres() as pg:
        import psycopg

        with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger")
        for name, url in (
            ("SQLite", f"sqlite:///{tmp}/ledger.db"),
            ("PostgreSQL 15", pg.url("ledger")),
        ):
            load = _load(url, args.events)
            out = subprocess.run(
                [sys.executable, "-m", "bench.ledger_bench", "--worker", url],
                capture_output=True,
                text=True,
                check=True,
            )
            row = {
                "database": name,
                "load_seconds": round(load, 1),
                **json.loads(out.stdout.strip().splitlines()[-1]),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| database | events | subjects | verify | events/s | peak RSS | intact |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['database']} | {r['events']:,} | {r['subjects']:,} | {r['seconds']} s | "
        f"{r['events_per_second']:,} | {r['peak_rss_mb']} MB | {r['ok']} |"
        for r in results
    ]
    (RESULTS / "ledger.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
