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
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError  # what sync raises
from prefect.concurrency.sync import concurrency

from reconsent.campaigns.wave_artifacts import database_tag
from reconsent.wiring import get_runtime

__all__ = ["slot_name", "wave_slot"]

#: How long the Prefect API may take to answer (a slow server is not a busy wave).
API_SECONDS = 60.0


def slot_name(wave_id: int) -> str:
    return f"reconsent-{database_tag(get_runtime().settings.database_url)}-wave-{wave_id}"


@contextmanager
def wave_slot(wave_id: int) -> Iterator[bool]:
    """Hold wave ``wave_id``'s one slot for the block (True), or False when another
    holder has it."""
    name = slot_name(wave_id)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
        # Held already: busy, without an acquisition that Prefect would log as failed.
        if client.read_global_concurrency_limit_by_name(name).active_slots >= 1:
            yield False
            return
    with ExitStack() as held:
        try:  # one try, never a wait for the holder (max_retries=0)
            held.enter_context(
                concurrency(name, occupy=1, timeout_seconds=API_SECONDS, max_retries=0, strict=True)
            )
        except ConcurrencySlotAcquisitionError:  # taken between the read and the try
            yield False
            return
        yield True
