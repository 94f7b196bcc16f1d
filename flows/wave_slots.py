"""One tick of a wave at a time across sweeps (and the workers running them): a
Prefect global concurrency limit of one slot per wave, named after the database and
the wave, taken without waiting. A sweep that finds a wave being ticked (a long tick
of the previous sweep, another worker's) goes on with the others and reports it busy;
the next sweep ticks it. Ticks stay safe without it (they split the due work), so
this only keeps sweeps from piling onto one wave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency

from reconsent.campaigns.wave_artifacts import database_tag
from reconsent.wiring import get_runtime

__all__ = ["slot_name", "wave_slot"]

#: How long a sweep waits for a wave's slot before it counts the wave busy.
WAIT_SECONDS = 1.0


def slot_name(wave_id: int) -> str:
    return f"reconsent-{database_tag(get_runtime().settings.database_url)}-wave-{wave_id}"


@contextmanager
def wave_slot(wave_id: int) -> Iterator[bool]:
    """Hold wave ``wave_id``'s one slot for the block (True), or False when another
    holder has it."""
    name = slot_name(wave_id)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
    with ExitStack() as held:
        try:
            held.enter_context(
                concurrency(name, occupy=1, timeout_seconds=WAIT_SECONDS, strict=True)
            )
        except TimeoutError:
            yield False
            return
        yield True
