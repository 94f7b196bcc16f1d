"""Many Prefect workers on one wave, as production runs it: a Prefect server on
PostgreSQL, reconsent on PostgreSQL, two task workers (``reconsent worker``) in their
own processes, and two ticks of one new wave started at once (``reconsent wave tick``,
each fanning its batches out to the task workers). Measured at the SendGrid emulator:
every request sent once, the global pacing kept by both workers together, both
workers doing batches, the ticks' reports come back from the workers, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import SendAttempt
from reconsent.db import make_engine, unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.kernel.clock import FixedClock
from tests.support import factories
from tests.support.postgres import PostgresServer
from tests.support.prefect_server import PrefectServer, prefect_on_postgres, task_workers

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]

PEOPLE, RATE, BATCH = 48, 8.0, 6  # 8 batches; 8 e-mails a second for both workers
KEY = "SG.workers-test"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prefect_pg(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrefectServer]:
    with prefect_on_postgres(pg_server, tmp_path_factory.mktemp("prefect-pg")) as server:
        yield server


def _env(prefect: PrefectServer, pg_url: str, sendgrid: str, tmp_path: Path) -> dict[str, str]:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("RECONSENT_", "PREFECT_"))
    }
    return {
        **inherited,
        **prefect.env(),
        "RECONSENT_DATABASE_URL": pg_url,
        "RECONSENT_DATA_DIR": str(tmp_path / "var"),
        "RECONSENT_CHANNEL_MODE": "auto",
        "RECONSENT_SENDGRID_API_KEY": KEY,
        "RECONSENT_SENDGRID_API_HOST": sendgrid,
        "RECONSENT_SIGNING_KEYS": "workers-test-key",
        "RECONSENT_ADDRESS_HASH_KEY": "test-address-key",
        "RECONSENT_EVIDENCE_KEY": "test-evidence-key",
        "RECONSENT_PORTAL_BASE_URL": "http://portal.test",
        "RECONSENT_SEND_RATE_PER_SECOND": json.dumps({"email": RATE}),
        "RECONSENT_DISPATCH_BATCH_SIZE": str(BATCH),
        "RECONSENT_TICK_BATCH_RUNNER": "task-workers",
        "RECONSENT_TICK_CONCURRENCY": "4",
    }


def test_two_task_workers_share_two_ticks_of_one_wave_and_send_each_request_once(
    prefect_pg: PrefectServer, pg_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    engine = make_engine(pg_url)
    now = clock.now()
    with unit_of_work(engine) as s:  # a new wave: both ticks race to plan it
        p = factories.add_catalog(s, now)
        for n in range(PEOPLE):
            c = factories.add_contact(s, now, f"t{n}", email=f"t{n}@example.com")
            factories.consent_to_channels(s, now, c, p, now - timedelta(days=800))
        wave_id = factories.add_wave(s, now, steps=[{"channel": "email", "wait": "3d"}]).id
    emulator = SendGridEmulator(KEY)
    reconsent = str(Path(sys.executable).with_name("reconsent"))
    with running_server(emulator.app()) as sendgrid:
        env = _env(prefect_pg, pg_url, sendgrid, tmp_path)
        with task_workers(env, 2, 2, tmp_path) as logs:  # both listening before any batch
            tick = [reconsent, "wave", "tick", str(wave_id), "--now", now.isoformat(), "--json"]
            ticks = [
                subprocess.Popen(
                    tick, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
                for _ in range(2)
            ]
            answers = [t.communicate(timeout=300) for t in ticks]
    worker_logs = [p.read_text(errors="replace") for p in logs]
    for t, (said, err) in zip(ticks, answers, strict=True):
        assert t.returncode == 0, err.decode(errors="replace")
        assert b"Traceback" not in err + said
    assert not any("Traceback" in log for log in worker_logs), worker_logs

    per_attempt = Counter(d.custom_args["attempt_id"] for d in emulator.deliveries())
    assert len(per_attempt) == PEOPLE  # everyone
    assert set(per_attempt.values()) == {1}  # nobody twice
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == PEOPLE
    engine.dispose()

    # The reports came back from the workers: the two ticks' counts add up to the sends.
    activity = [json.loads(said)["activity"] for said, _err in answers]
    assert sum(a.get("sent", {}).get("email", 0) for a in activity) == PEOPLE
    # Both workers advanced batches (the task engine logs each finished task run).
    finished = [log.count("Finished in state Completed") for log in worker_logs]
    assert all(n >= 1 for n in finished), finished

    # Pacing is global: a burst of RATE, then RATE a second, both workers together.
    calls = sorted(emulator.accepted(), key=lambda r: r.at)
    assert sum(len(r.body["personalizations"]) for r in calls) == PEOPLE
    assert max(len(r.body["personalizations"]) for r in calls) <= RATE
    span = calls[-1].at - calls[0].at
    assert span >= (PEOPLE - RATE) / RATE * 0.9, span  # 5 s at the rate; twice it would be 2.5
