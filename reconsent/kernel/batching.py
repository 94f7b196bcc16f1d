"""Group work that arrives together into one call: the portal's decision batches and the
operator API's captures.

``Batcher.submit(item)`` waits for the result of ``item``.  The first item
starts a drain task; items submitted while a batch is being written wait and
go together in the next one (at most ``max_batch``).  Nothing waits for a
batch to fill: under light load a batch is one item, written at once; under
heavy load each unit of work (each commit, each statement) serves many
people.  One batcher per process, event loop and kind of write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

P = TypeVar("P")
R = TypeVar("R")

__all__ = ["Batcher"]


class Batcher(Generic[P, R]):
    def __init__(
        self, write: Callable[[list[P]], Awaitable[Sequence[R]]], *, max_batch: int = 64
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self.max_batch = max_batch
        self._queue: list[tuple[P, asyncio.Future[R]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: P) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # the posts already read by the loop join this batch
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                try:
                    results = await self._write([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError("a batch write must return one result per item")
                except Exception as exc:  # every waiter learns of it; later batches still run
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._draining = None
