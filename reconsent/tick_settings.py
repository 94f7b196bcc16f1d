"""How a wave tick runs its batches, mixed into :class:`reconsent.settings.Settings`.

A tick hands each due id range to one Prefect task run (``advance-batch``), submitted,
several at a time. Where those task runs execute is the choice here: in threads of the
tick's own process, or on Prefect task workers (``reconsent worker``), any number of
processes on any machines that share the database and Prefect's result storage.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

__all__ = ["BatchRunner", "TickSettings"]


class BatchRunner(StrEnum):
    THREADS = "threads"
    TASK_WORKERS = "task-workers"


class TickSettings(BaseModel):
    tick_batch_runner: BatchRunner = Field(
        default=BatchRunner.THREADS,
        description="Where a tick's batch task runs execute: `threads` of the tick's own "
        "process, or `task-workers`: Prefect task workers started with `reconsent worker` "
        "(any number, on any machine with this project, its settings, the database and "
        "Prefect's result storage). With no task worker listening, the tick says so and "
        "uses its threads.",
    )
    tick_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Batch task runs of one tick in flight at once (threads, or task runs "
        "submitted ahead to the task workers). SQLite, one writer at a time, uses 1.",
    )
