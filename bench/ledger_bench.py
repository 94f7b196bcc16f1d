"""Benchmark: ``reconsent ledger verify`` and checkpoints over 1,000,000 consent events.

    python -m bench.ledger_bench --baseline /work/old-ledger [--events 1000000] [--rounds 2]

``--baseline`` is a checkout of the code before ledger v2 (``git -C /work/main
worktree add /work/old-ledger 7321516``; remove it afterwards). For SQLite and a
throwaway PostgreSQL 15, in the same run:

* **v1** database: built at the revision before ledger v2 with valid v1 chains
  (200,000 subjects x 5 events) and their projection (800,000 rows), then
  migrated (every event reads v1); **v2** database: the same shape, every event
  hashed v2 (what every new event is);
* a checkpoint of each (timed);
* ``--rounds`` rounds, each running in turn: the baseline's ``ledger verify`` (v1
  database), this code's verify and verify with the checkpoint (v1), verify with
  the checkpoint and verify alone (v2). The machine's load drifts, so each step
  is compared within the same rounds; the table shows each step's best round.

Chains are built in Python with the ledger's own ``event_hash`` and bulk-loaded
(SQLite executemany, PostgreSQL COPY). Each timed step runs in its own process
(its peak RSS is its own). Results: bench/results/ledger.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
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
ROOT = Path(__file__).resolve().parents[1]
BEFORE = "a1d5e7f20001"
CODES = {1: "marketing_email", 2: "marketing_sms", 3: "marketing_phone", 4: "profiling"}
COLUMNS = (
    "id, event_id, contact_id, subject_id, purpose_id, state, occurred_at, recorded_at, expires_at,"
    " controller, jurisdiction, language, notice_version, notice_digest, method, channel, actor,"
    " evidence, provable, source, prev_hash, hash"
)
PER = 5


def _rows(events: int, sqlite: bool, version: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The events (v1 or v2 chains) and the projection rows (latest per contact, purpose)."""
    rows: list[tuple[Any, ...]] = []
    status: dict[tuple[int, int], tuple[Any, ...]] = {}
    for subject_no in range(events // PER):
        subject = f"subject-{subject_no:08d}"
        contact_id = subject_no + 1
        prev: str | None = None
        for k in range(PER):
            n = subject_no * PER + k + 1
            at = NOW - timedelta(days=400 - k * 30, seconds=n % 997)
            purpose_id = k % 4 + 1
            fields = {
                "event_id": f"ev-{n:010d}",
                "subject_id": subject,
                "contact_id": contact_id,
                "purpose": CODES[purpose_id],
                "purpose_id": purpose_id,
                "state": "given" if k % 3 else "refused",
                "occurred_at": at,
                "recorded_at": at,
                "expires_at": None,
                "controller": "Bench S.r.l.",
                "jurisdiction": "IT",
                "language": "it",
                "notice_version": "2026-09",
                "notice_digest": "d" * 64,
                "method": "portal",
                "channel": "email",
                "actor": "subject",
                "evidence": {"ip": "203.0.113.0"},
                "provable": True,
            }
            digest = event_hash(fields, prev, version)
            stamp = at.replace(tzinfo=None).isoformat(sep=" ") if sqlite else at
            row = (n, fields["event_id"], contact_id, subject, purpose_id, fields["state"], stamp)
            rows.append(
                (
                    *row,
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
                    *((version,) if version > 1 else ()),
                )
            )
            status[(contact_id, purpose_id)] = (
                contact_id,
                purpose_id,
                fields["state"],
                stamp,
                None,
                "2026-09",
                True,
                n,
            )
            prev = digest
    return rows, list(status.values())


def _load(url: str, events: int, version: int) -> float:
    """Migrate (to the revision before ledger v2 for v1 chains), then bulk-load."""
    from reconsent.db import make_engine, upgrade

    upgrade(url, BEFORE if version == 1 else "heads")
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    started = time.perf_counter()
    rows, status = _rows(events, sqlite, version)
    columns = COLUMNS + (", hash_version" if version > 1 else "")
    status_columns = (
        "contact_id, purpose_id, state, occurred_at, expires_at, notice_version, provable,"
        " last_event_id"
    )
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
            marks = ",".join("?" * len(rows[0]))
            cur.executemany(f"INSERT INTO consent_events ({columns}) VALUES ({marks})", rows)
            cur.executemany(
                f"INSERT INTO consent_status ({status_columns}) VALUES ({','.join('?' * 8)})",
                status,
            )
        else:
            cur.execute("SET session_replication_role = replica")
            with cur.copy(f"COPY consent_events ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with cur.copy(f"COPY consent_status ({status_columns}) FROM STDIN") as copy:
                for row in status:
                    copy.write_row(row)
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("SELECT setval('consent_events_id_seq', %s)", (len(rows),))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _verify(url: str, checkpoints: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    if checkpoints:
        from reconsent.ledger.checkpoints import verify_with_checkpoints

        report = verify_with_checkpoints(url, Path(checkpoints), None)
    else:
        from reconsent.ledger.verify import verify_ledger_parallel

        report = verify_ledger_parallel(url)
    seconds = time.perf_counter() - started
    return {
        "events": report.events,
        "subjects": report.subjects,
        "ok": report.ok,
        "breaks": [b.as_dict() for b in report.breaks[:3]],
        "seconds": round(seconds, 2),
        "events_per_second": round(report.events / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def _checkpoint(url: str, folder: str) -> dict[str, Any]:
    from reconsent.db import make_engine
    from reconsent.ledger.checkpoint_signing import new_key
    from reconsent.ledger.checkpoints import take_checkpoint

    engine = make_engine(url)
    started = time.perf_counter()
    taken = take_checkpoint(engine, Path(folder), new_key(), NOW, "Bench S.r.l.")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "events": taken.statement["events"],
        "subjects": taken.statement["subjects"],
        "seconds": round(seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def _run(args: list[str], cwd: Path = ROOT, baseline: bool = False) -> dict[str, Any]:
    """One timed step in a fresh process; ``baseline``: the old checkout's code and bench."""
    env = {**os.environ, "PYTHONPATH": str(cwd)} if baseline else dict(os.environ)
    if not baseline:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, "-m", "bench.ledger_bench", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


#: The verify runs of one round, in the order they alternate: (key, which code, database, checkpoints?).
ROUND = (
    ("before_verify", "baseline", "v1", False),
    ("v1_verify", "this", "v1", False),
    ("v1_verify_checkpoints", "this", "v1", True),
    ("v2_verify_checkpoints", "this", "v2", True),
    ("v2_verify", "this", "v2", False),
)


def _measure(
    name: str, urls: dict[str, str], events: int, baseline: Path, rounds: int, tmp: str
) -> dict[str, Any]:
    """Load both databases, checkpoint them, then alternate the verify runs ``rounds``
    times (the machine's load drifts: the same step is compared within a round)."""
    from reconsent.db import upgrade

    row: dict[str, Any] = {"database": name, "events": events, "load_avg": os.getloadavg()[0]}
    row["load_v1_seconds"] = round(_load(urls["v1"], events, 1), 1)
    upgrade(urls["v1"])  # every event reads v1; the baseline's verify reads the columns it knows
    row["load_v2_seconds"] = round(_load(urls["v2"], events, 2), 1)
    folders = {v: f"{tmp}/{v}-{name[:2]}" for v in urls}
    for v in urls:
        row[f"{v}_checkpoint"] = _run(["--checkpoint-worker", urls[v], folders[v]])
    row["rounds"] = []
    for _ in range(rounds):
        done: dict[str, Any] = {}
        for key, code, v, checkpoints in ROUND:
            args = ["--worker", urls[v], *(["--checkpoints", folders[v]] if checkpoints else [])]
            done[key] = _run(args, baseline, baseline=True) if code == "baseline" else _run(args)
        row["rounds"].append(done)
        print(json.dumps(done), flush=True)
    for key, *_ in ROUND:  # the best of the rounds, as the table shows
        row[key] = min((r[key] for r in row["rounds"]), key=lambda step: step["seconds"])
    row["load_avg_after"] = os.getloadavg()[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of the code before ledger v2 (git worktree)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker")
    parser.add_argument("--checkpoints")
    parser.add_argument("--checkpoint-worker", nargs=2)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_verify(args.worker, args.checkpoints)))
        return
    if args.checkpoint_worker:
        print(json.dumps(_checkpoint(*args.checkpoint_worker)))
        return
    if args.baseline is None:
        parser.error("--baseline is required (e.g. `git worktree add /work/old-ledger 7321516`)")
    import psycopg

    from tests.support.postgres import running_postgres

    results = []
    with tempfile.TemporaryDirectory() as tmp, running_postgres() as pg:
        with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger_v1")
            conn.execute("CREATE DATABASE ledger_v2")
        for name, urls in (
            ("SQLite", {"v1": f"sqlite:///{tmp}/v1.db", "v2": f"sqlite:///{tmp}/v2.db"}),
            ("PostgreSQL 15", {"v1": pg.url("ledger_v1"), "v2": pg.url("ledger_v2")}),
        ):
            row = _measure(name, urls, args.events, args.baseline, args.rounds, tmp)
            results.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "rounds"}), flush=True)
    _report(results)


def _report(results: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| database | events | step | seconds | events/s | peak RSS | intact | vs before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    steps = (
        ("before_verify", "before: verify (v1 chains, the baseline's code)"),
        ("v1_verify", "verify, the same v1 chains migrated"),
        ("v1_checkpoint", "checkpoint, v1 chains"),
        ("v1_verify_checkpoints", "verify --checkpoints, v1 chains"),
        ("v2_checkpoint", "checkpoint, v2 chains"),
        ("v2_verify_checkpoints", "verify --checkpoints, v2 chains"),
        ("v2_verify", "verify, v2 chains"),
    )
    for r in results:
        before = r["before_verify"]["seconds"]
        for key, label in steps:
            step = r[key]
            ratio = f"{step['seconds'] / before:.2f}x" if "verify" in key else ""
            rate = f"{step['events_per_second']:,}" if "events_per_second" in step else ""
            lines.append(
                f"| {r['database']} | {r['events']:,} | {label} | {step['seconds']} | {rate} | "
                f"{step['peak_rss_mb']} MB | {step.get('ok', '')} | {ratio} |"
            )
    lines += ["", "Each round, in the order run (seconds; load average before and after):", ""]
    lines += ["| database | round | " + " | ".join(k for k, *_ in ROUND) + " |"]
    lines += ["|---|---|" + "---|" * len(ROUND)]
    for r in results:
        for n, done in enumerate(r["rounds"], start=1):
            cells = " | ".join(str(done[k]["seconds"]) for k, *_ in ROUND)
            lines.append(f"| {r['database']} | {n} | {cells} |")
        lines.append(
            f"| {r['database']} | load | {r['load_avg']:.1f} -> {r['load_avg_after']:.1f} |"
        )
    (RESULTS / "ledger.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
