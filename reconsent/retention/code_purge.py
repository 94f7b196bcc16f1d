"""Old one-time code challenges, deleted: each holds an address hash, a hash of the
client's network and, for an address we hold, the person. They serve the hour's
request limits and a lock of minutes; a day after they expired (and any lock ended)
they serve nothing, so the retention run deletes them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from models import OneTimeCode

__all__ = ["CODES_KEPT", "purge_codes"]

#: How long a challenge is kept after it expired and any lock on it ended.
CODES_KEPT = timedelta(days=1)


def _stale(now: datetime) -> ColumnElement[bool]:
    before = now - CODES_KEPT
    return and_(
        OneTimeCode.expires_at < before,
        or_(OneTimeCode.locked_until.is_(None), OneTimeCode.locked_until < before),
    )


def purge_codes(session: Session, now: datetime, *, dry_run: bool = False) -> int:
    """Delete (``dry_run``: count) the challenges past :data:`CODES_KEPT`."""
    if dry_run:
        return int(session.scalar(select(func.count()).where(_stale(now))) or 0)
    result = session.execute(
        delete(OneTimeCode).where(_stale(now)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
