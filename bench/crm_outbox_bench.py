"""Benchmark: what the CRM webhooks' outbox costs the ledger's write path.

    python -m bench.crm_outbox_bench --baseline /work/main [--rounds 2]

``--baseline`` is a checkout of the code before the outbox (its ``append_events``
writes no delivery). On SQLite and a throwaway PostgreSQL 15, in the same run,
interleaved per round, each in its own process on a fresh database:

* **single**: 2,000 transactions of one consent event each (a portal decision,
  an IVR answer, an operator's capture);
* **bulk**: 100,000 events appended in batches of 5,000 (a CRM import);

for the baseline, this code with no endpoint (one read of the empty endpoint
table per append) and this code with one subscribed endpoint (a delivery row
per event, written in the same transaction). Results: bench/results/crm_outbox.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
SINGLE, BULK, BATCH = 2_000, 100_000, 5_000


def _worker(url: str, mode: str, endpoint: bool) -> dict[str, Any]:
    from sqlalchemy import insert

    from models import Contact
    from reconsent.db import make_engine, unit_of_work, upgrade
    from reconsent.kernel.vocab import CollectionMethod, ConsentState
    from reconsent.ledger.append import LedgerContext, NewEvent, append_events
    from tests.conftest import FIXED_NOW
    from tests.support import factories

    upgrade(url)
    engine = make_engine(url)
    now = FIXED_NOW
    people = SINGLE if mode == "single" else BULK // 5
    with unit_of_work(engine) as s:
        purposes = list(factories.add_catalog(s, now).values())
        rows = [
            {
                "external_id": f"crm-{i}",
                "subject_id": str(uuid.uuid4()),
                "locale": "it",
                "timezone": "Europe/Rome",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(people)
        ]
        s.execute(insert(Contact), rows)
        contacts = [(c.id, c.subject_id) for c in s.query(Contact.id, Contact.subject_id)]
        if endpoint:
            from reconsent.crm_webhooks.endpoint_admin import add_endpoint
            from reconsent.crm_webhooks.secret_box import SecretBox

            add_endpoint(s, "https://crm.example.com/hooks", "*", SecretBox("bench"), now)
    ctx = LedgerContext(controller="Bench S.r.l.", jurisdiction="IT", now=now)

    def event(i: int) -> NewEvent:
        contact_id, subject = contacts[i % len(contacts)]
        return NewEvent(
            contact_id=contact_id,
            subject_id=subject,
            purpose=purposes[(i // len(contacts)) % len(purposes)],
            state=ConsentState.GIVEN if i % 3 else ConsentState.REFUSED,
            occurred_at=now,
            method=CollectionMethod.IMPORTED,
            actor="bench",
        )

    started = time.perf_counter()
    if mode == "single":
        for i in range(SINGLE):
            with unit_of_work(engine) as s:
                append_events(s, [event(i)], ctx)
        count = SINGLE
    else:
        for start in range(0, BULK, BATCH):
            with unit_of_work(engine) as s:
                append_events(s, [event(i) for i in range(start, start + BATCH)], ctx)
        count = BULK
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        from sqlalchemy import text

        try:
            outbox = conn.execute(text("SELECT count(*) FROM crm_webhook_deliveries")).scalar()
        except Exception:  # the baseline has no such table
            outbox = None
    engine.dispose()
    return {"events": count, "seconds": seconds, "per_s": count / seconds, "outbox": outbox}


def _run(code: Path, url: str, mode: str, endpoint: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    # As a script: the baseline's checkout has no such module, only its reconsent.
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", url, mode]
    if endpoint:
        args.append("--endpoint")
    out = subprocess.run(args, env=env, cwd=code, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=2)
    parser.add_argument("--endpoint", action="store_true")
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker[0], args.worker[1], args.endpoint)))
        return
    if args.baseline is None:
        parser.error("--baseline is required (a checkout of the code before the outbox)")
    import psycopg

    from tests.support.postgres import running_postgres

    variants = (
        ("before", args.baseline, False),
        ("no endpoint", ROOT, False),
        ("1 endpoint", ROOT, True),
    )
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, running_postgres() as pg:
        n = 0
        for database in ("SQLite", "PostgreSQL 15"):
            for mode in ("single", "bulk"):
                best: dict[str, dict[str, Any]] = {}
                for _round in range(args.rounds):
                    for label, code, endpoint in variants:
                        n += 1
                        if database == "SQLite":
                            url = f"sqlite:///{tmp}/bench-{n}.db"
                        else:
                            with psycopg.connect(
                                pg.url().replace("+psycopg", ""), autocommit=True
                            ) as c:
                                c.execute(f"CREATE DATABASE bench_{n}")
                            url = pg.url(f"bench_{n}")
                        got = _run(code, url, mode, endpoint)
                        if label not in best or got["seconds"] < best[label]["seconds"]:
                            best[label] = got
                for label, got in best.items():
                    row = {"database": database, "mode": mode, "variant": label, **got}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    _report(results)


def _report(results: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "crm_outbox.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| database | path | variant | events | seconds | events/s | deliveries written | vs before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    before = {(r["database"], r["mode"]): r["seconds"] for r in results if r["variant"] == "before"}
    for r in results:
        ratio = r["seconds"] / before[(r["database"], r["mode"])]
        lines.append(
            f"| {r['database']} | {r['mode']} | {r['variant']} | {r['events']:,} | {r['seconds']:.2f}"
            f" | {r['per_s']:,.0f} | {r['outbox'] if r['outbox'] is not None else '-'} | {ratio:.2f}x |"
        )
    (RESULTS / "crm_outbox.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
