"""The provider pacing buckets every dispatcher shares (issue 16: pacing across workers)."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class PacingBucket(Base):
    """One paced channel's token bucket: ``tokens`` as of ``at`` (seconds since the epoch
    of the dispatchers' clock). Every process that sends on the channel reserves its
    chunk here, under the row's lock, so N workers send at the configured rate, not N
    times it."""

    __tablename__ = "pacing_buckets"

    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)
