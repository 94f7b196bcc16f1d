"""Per-channel pacing of one dispatcher: how much to claim and when a chunk may leave.

A paced channel (``RECONSENT_SEND_RATE_PER_SECOND``, e.g. a long code's 1 SMS/s)
is claimed one provider call's worth at a time, and each chunk is released by a
token bucket. With ``shared`` (the dispatcher's database: ``shared_pacing.py``) the
bucket is one for every process and machine on that database, so two workers send
at the rate, not twice it; without, it is this process's (its batches and threads:
the runtime keeps one dispatcher per process). Claiming a thousand SMS at once
would keep the last of them waiting ~17 minutes at 1/s, past their claim lease.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from reconsent.dispatch.shared_pacing import SharedBuckets
from reconsent.kernel.ports import ChannelAdapter
from reconsent.kernel.rules.token_bucket import TokenBucket
from reconsent.kernel.vocab import Channel

T = TypeVar("T")


class Pacer:
    def __init__(
        self,
        rates: Mapping[str, float],
        adapters: Mapping[Channel, ChannelAdapter],
        *,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        shared: SharedBuckets | None = None,
    ) -> None:
        self.adapters = adapters
        self.sleep, self.monotonic = sleep, monotonic
        self.shared = shared
        self._lock = threading.Lock()
        self.buckets = {
            Channel(name): TokenBucket(rate, max(1.0, rate)) for name, rate in rates.items()
        }

    def chunk_size(self, channel: Channel) -> int:
        """One provider call's worth: a second of a paced channel, else the adapter's max."""
        max_batch = self.adapters[channel].max_batch
        bucket = self.buckets.get(channel)
        return max_batch if bucket is None else max(1, min(max_batch, int(bucket.rate)))

    def first_chunks(
        self, sends: Sequence[T], channel_of: Callable[[T], Channel]
    ) -> tuple[list[T], bool]:
        """``sends`` with at most one chunk per paced channel, and whether any were left."""
        if not self.buckets:
            return list(sends), False
        room = {channel: self.chunk_size(channel) for channel in self.buckets}
        kept: list[T] = []
        for item in sends:
            channel = channel_of(item)
            if channel in room:
                if room[channel] == 0:
                    continue
                room[channel] -= 1
            kept.append(item)
        return kept, len(kept) < len(sends)

    def chunks(self, channel: Channel, messages: Sequence[T]) -> Iterator[list[T]]:
        """Chunks of at most one call's worth, released no faster than the channel's rate."""
        bucket = self.buckets.get(channel)
        size = self.chunk_size(channel)
        for start in range(0, len(messages), size):
            chunk = list(messages[start : start + size])
            wait = 0.0
            if bucket is not None and self.shared is not None:
                wait = self.shared.reserve(channel, bucket, len(chunk), self.monotonic())
            elif bucket is not None:
                with self._lock:
                    wait = bucket.reserve(len(chunk), self.monotonic())
            if wait > 0:
                self.sleep(wait)
            yield chunk
