"""Provider pacing shared by every dispatcher on one database: workers on several
processes or machines send a paced channel at its configured rate together.

Each chunk reserves its tokens in the channel's row of ``pacing_buckets`` (locked
for a moment: ``FOR UPDATE`` on PostgreSQL, the write lock on SQLite), with the one
rate rule (:class:`reconsent.kernel.rules.token_bucket.TokenBucket`); the wait it
learns is slept outside the transaction. One short transaction per provider call
of a paced channel (a paced chunk is a second's worth): negligible beside the call.
The clock is the dispatchers' own wall clock (seconds since the epoch), so
machines sharing a bucket need synchronised clocks (NTP), as their logs do.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import PacingBucket
from reconsent.db import SessionSource, insert_ignoring_conflicts, unit_of_work
from reconsent.kernel.rules.token_bucket import TokenBucket
from reconsent.kernel.vocab import Channel

__all__ = ["SharedBuckets"]


class SharedBuckets:
    def __init__(self, source: SessionSource) -> None:
        self.source = source

    def reserve(self, channel: Channel, bucket: TokenBucket, n: int, now: float) -> float:
        """Take ``n`` tokens of ``channel``'s shared bucket (``bucket``: its rate and burst);
        return the seconds to wait before the chunk may leave."""
        with unit_of_work(self.source) as session:
            row = _locked(session, channel, bucket.burst, now)
            shared = TokenBucket(bucket.rate, bucket.burst)
            shared.tokens, shared.at = min(row.tokens, bucket.burst), row.at
            wait = shared.reserve(n, now)
            assert shared.at is not None
            row.tokens, row.at = shared.tokens, shared.at
        return wait


def _locked(session: Session, channel: Channel, burst: float, now: float) -> PacingBucket:
    # The first reservation of a channel creates its row (full); a concurrent first one
    # of another process finds it made: the insert ignores the conflict.
    session.execute(
        insert_ignoring_conflicts(session, PacingBucket).values(
            channel=channel.value, tokens=burst, at=now
        )
    )
    row = session.scalar(
        select(PacingBucket)
        .where(PacingBucket.channel == channel.value)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted above, or already there
    return row
