"""The tick's fan-out over a task runner: a window of batches in flight, reports
merged, a failure stops the submissions; the choice of runner. (A fake runner: the
real ones are exercised by the flow tests and tests/integration/test_task_workers.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from prefect import Task, task
from prefect.task_runners import PrefectTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows.batch_fanout import advance_ranges, batch_runner
from reconsent.tick_settings import BatchRunner

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@task(name="advance-batch-fake")
def fake_batch(wave_id: int, lo: int, hi: int, now: datetime) -> dict[str, dict[str, int]]:
    return {"sent": {"email": hi - lo + 1}}


class _Future:
    def __init__(self, runner: _Runner, params: dict[str, Any]) -> None:
        self.runner, self.params = runner, params

    def result(self) -> dict[str, dict[str, int]]:
        self.runner.in_flight -= 1
        if self.params["lo"] in self.runner.failing:
            raise RuntimeError(f"batch {self.params['lo']} failed")
        return fake_batch.fn(**self.params)


class _Runner:
    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = failing
        self.submitted: list[dict[str, Any]] = []
        self.in_flight = self.most_in_flight = 0
        self.open = False

    def __enter__(self) -> _Runner:
        self.open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.open = False

    def submit(self, _task: Task[Any, Any], parameters: dict[str, Any]) -> _Future:
        assert self.open
        self.submitted.append(parameters)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return _Future(self, parameters)


RANGES = [(1, 10), (11, 20), (21, 30), (31, 40), (41, 45)]


def test_every_range_is_one_submitted_run_a_window_at_a_time_and_reports_add_up() -> None:
    runner, done = _Runner(), list[int]()
    report = advance_ranges(
        cast(TaskRunner[Any], runner), fake_batch, 7, RANGES, NOW, 2, done.append
    )
    assert [(p["lo"], p["hi"]) for p in runner.submitted] == RANGES
    assert {p["wave_id"] for p in runner.submitted} == {7}
    assert {p["now"] for p in runner.submitted} == {NOW}
    assert runner.most_in_flight == 2
    assert report.sent == {"email": 45}
    assert done == [1, 2, 3, 4, 5]


def test_a_failed_batch_stops_new_submissions_waits_for_those_in_flight_and_fails() -> None:
    runner = _Runner(failing=frozenset({11}))
    with pytest.raises(RuntimeError, match="batch 11 failed"):
        advance_ranges(cast(TaskRunner[Any], runner), fake_batch, 7, RANGES, NOW, 2)
    # 1 and 11 in flight; 1 done, 21 submitted; 11 fails: nothing more is submitted.
    assert [p["lo"] for p in runner.submitted] == [1, 11, 21]
    assert runner.in_flight == 0  # every submitted run was waited for


def test_threads_unless_task_workers_are_asked_for_and_listening() -> None:
    warnings: list[str] = []
    threads, where = batch_runner(BatchRunner.THREADS, 3, fake_batch, workers=lambda _t: 5)
    assert isinstance(threads, ThreadPoolTaskRunner) and where == "3 thread(s)"
    remote, where = batch_runner(BatchRunner.TASK_WORKERS, 3, fake_batch, workers=lambda _t: 2)
    assert isinstance(remote, PrefectTaskRunner) and where == "2 Prefect task worker(s)"
    alone, where = batch_runner(
        BatchRunner.TASK_WORKERS, 3, fake_batch, workers=lambda _t: 0, warn=warnings.append
    )
    assert isinstance(alone, ThreadPoolTaskRunner) and where == "3 thread(s)"
    assert len(warnings) == 1 and "reconsent worker" in warnings[0]
