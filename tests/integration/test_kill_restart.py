"""A tick killed with SIGKILL in the middle of a provider call, then started again,
sends nobody twice and loses nobody (the real SendGrid SDK against the emulator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from models import SendAttempt
from reconsent.db import unit_of_work
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import AttemptStatus, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.planning.planner import plan_wave
from reconsent.wiring import build_adapters
from tests.conftest import make_settings
from tests.support import factories

N = 2500  # three SendGrid calls: 1,000 + 1,000 + 500


def _seed(engine: Engine, clock: FixedClock) -> int:
    now = clock.now()
    with unit_of_work(engine) as s:
        p = factories.add_catalog(s, now)
        people = [
            factories.add_contact(
                s, now, f"k{i}", email=f"k{i}@example.com", phone=None, flush=False
            )
            for i in range(N)
        ]
        s.flush()
        given = now - timedelta(days=800)
        append_events(
            s,
            [
                NewEvent(
                    contact_id=c.id,
                    subject_id=c.subject_id,
                    purpose=p["marketing_email"],
                    state=ConsentState.GIVEN,
                    occurred_at=given,
                    method=CollectionMethod.IMPORTED,
                    actor="test",
                )
                for c in people
            ],
            LedgerContext("Test S.r.l.", "IT", now),
        )
        wave = factories.add_wave(s, now, steps=[{"channel": "email", "wait": "3d"}])
        plan_wave(s, wave, now)
        return wave.id


def test_sigkill_mid_batch_then_restart(
    engine: Engine, db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    wave_id = _seed(engine, clock)
    emulator = SendGridEmulator("SG.kill-test")
    emulator.delay_next(0.0)  # the first call goes through
    emulator.delay_next(3.0)  # the second is still in flight when the process dies
    with running_server(emulator.app()) as url:
        values = {
            "database_url": db_url,
            "sendgrid_api_key": "SG.kill-test",
            "sendgrid_api_host": url,
            "channel_mode": "auto",
            "sendgrid_max_inline_retries": 0,
        }
        settings = make_settings(tmp_path, db_url, **values)
        payload = json.dumps(
            {
                **values,
                "data_dir": str(tmp_path / "var"),
                "signing_keys": "test-key-new",
                "address_hash_key": "test-address-key",
                "evidence_key": "test-evidence-key",
                "portal_base_url": "http://portal.test",
            }
        )
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.tick_worker",
                payload,
                str(wave_id),
                clock.now().isoformat(),
            ],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ},
        )
        try:
            assert emulator.wait_until(arrived=2, timeout=60), "the second call never arrived"
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(timeout=30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
        assert emulator.wait_until(recorded=2, timeout=30)  # the provider finished the call
        with unit_of_work(engine) as s:
            left = Counter(s.scalars(select(SendAttempt.status)))
        assert left == {
            AttemptStatus.SENT: 1000,
            AttemptStatus.SENDING: 1000,
            AttemptStatus.CLAIMED: 500,
        }

        clock.advance(timedelta(seconds=settings.claim_lease_seconds + 1))
        restarted = Dispatcher(engine, settings, build_adapters(settings))
        for lo, hi in restarted.due_ranges(wave_id, clock.now(), 5000):
            restarted.advance(wave_id, lo, hi, clock.now())

    per_attempt = Counter(d.custom_args["attempt_id"] for d in emulator.deliveries())
    assert len(per_attempt) == N  # nobody lost
    assert set(per_attempt.values()) == {1}  # nobody twice
    assert len(emulator.accepted()) == 3
    with unit_of_work(engine) as s:
        final = Counter(s.scalars(select(SendAttempt.status)))
        assert s.scalar(select(func.count()).select_from(SendAttempt)) == N
    # The call that was in flight is presumed sent (it was); the unsent chunk went out.
    assert final == {AttemptStatus.SENT: 1500, AttemptStatus.UNKNOWN: 1000}
