"""A tick's due batches fanned out as Prefect task runs, a window of them at a time.

Each due id range (a keyset range from ``Dispatcher.due_ranges``: a pair of ids per
batch, never the list of due ids) becomes one ``advance-batch`` task run, *submitted*
to a task runner:

- ``threads`` (the default): a :class:`ThreadPoolTaskRunner` in the tick's process;
- ``task-workers``: Prefect's :class:`PrefectTaskRunner`, whose task runs are executed
  by the task workers that ``reconsent worker`` starts (any number of processes, on any
  machines). The tick only submits and collects reports.

At most ``tick_concurrency`` task runs are in flight: a 10-million-contact wave is
10,000 batches, which are not all handed to Prefect at once. Batches are independent:
the database claims each due request once (``FOR UPDATE SKIP LOCKED``), so a batch run
twice, or a worker lost mid-batch, sends nothing twice.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from prefect import Task
from prefect.futures import PrefectFuture
from prefect.task_runners import PrefectTaskRunner, TaskRunner, ThreadPoolTaskRunner

from reconsent.dispatch.batch_report import BatchReport
from reconsent.tick_settings import BatchRunner

__all__ = ["advance_ranges", "batch_runner", "listening_task_workers"]

log = logging.getLogger(__name__)


def listening_task_workers(task: Task[Any, Any]) -> int:
    """How many Prefect task workers are subscribed to ``task`` right now."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        answer = client.request(
            "POST",
            "/task_workers/filter",
            json={"task_worker_filter": {"task_keys": [task.task_key]}},
        )
    return len(answer.json())


def batch_runner(
    kind: BatchRunner,
    concurrency: int,
    task: Task[Any, Any],
    *,
    workers: Callable[[Task[Any, Any]], int] = listening_task_workers,
    warn: Callable[[str], None] = log.warning,
) -> tuple[TaskRunner[Any], str]:
    """The task runner for a tick's batches, and a line saying which it is.

    ``task-workers`` with no worker listening would leave the tick waiting for ever:
    the tick says so and runs its batches in its own threads instead.
    """
    if kind is BatchRunner.TASK_WORKERS:
        listening = workers(task)
        if listening:
            runner: PrefectTaskRunner[Any] = PrefectTaskRunner()  # type: ignore[no-untyped-call]
            return runner, f"{listening} Prefect task worker(s)"
        warn(
            "RECONSENT_TICK_BATCH_RUNNER=task-workers but no task worker listens for "
            f"{task.name} (start some with `reconsent worker`): this tick runs its "
            "batches in its own threads"
        )
    return ThreadPoolTaskRunner(max_workers=concurrency), f"{concurrency} thread(s)"


def advance_ranges(
    runner: TaskRunner[Any],
    task: Task[Any, Any],
    wave_id: int,
    ranges: Sequence[tuple[int, int]],
    now: datetime,
    window: int,
    on_done: Callable[[int], None] = lambda _done: None,
) -> BatchReport:
    """Submit one ``task`` run per range to ``runner``, at most ``window`` in flight,
    and merge their reports (``on_done`` gets the number of batches done so far).

    A batch that fails (after its own retries) fails the tick once the batches already
    in flight are done; the next tick takes up what is still due.
    """
    collected = _Collected(on_done)
    with runner:
        in_flight: deque[PrefectFuture[Any]] = deque()
        for lo, hi in ranges:
            if collected.failure is not None:
                break  # submit nothing more; what is in flight still finishes
            in_flight.append(
                runner.submit(task, {"wave_id": wave_id, "lo": lo, "hi": hi, "now": now})
            )
            if len(in_flight) >= window:
                collected.wait(in_flight.popleft())
        while in_flight:
            collected.wait(in_flight.popleft())
    if collected.failure is not None:
        raise collected.failure
    return collected.report


class _Collected:
    """The reports of the batches done so far, and the first failure."""

    def __init__(self, on_done: Callable[[int], None]) -> None:
        self.report, self.done, self.on_done = BatchReport(), 0, on_done
        self.failure: BaseException | None = None

    def wait(self, future: PrefectFuture[Any]) -> None:
        try:
            result = future.result()
        except Exception as exc:  # the task run's own error, after its retries
            self.failure = self.failure or exc
            return
        self.report.merge(BatchReport.from_dict(result))
        self.done += 1
        self.on_done(self.done)
