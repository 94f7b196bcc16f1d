"""Per-channel address suppressions written by the provider callbacks (bounces, STOP).

The contact-wide suppressions of an objection are written by
:func:`reconsent.ledger.objections.record_objection`; these are the address-level ones:
an address hash on one channel, kept even when the contact is erased, so the
address is never used again on that channel whoever it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.orm import Session

from models import Suppression
from reconsent.kernel.vocab import Channel, SuppressionReason

__all__ = ["lift_address", "suppress_address"]


def suppress_address(
    session: Session,
    *,
    address_hash: str,
    channel: Channel,
    reason: SuppressionReason,
    source: str,
    now: datetime,
    contact_id: int | None = None,
) -> bool:
    """Add the suppression unless the same (hash, channel, reason) exists; True when added."""
    exists = session.scalar(
        select(Suppression.id)
        .where(
            Suppression.address_hash == address_hash,
            Suppression.channel == channel,
            Suppression.reason == reason,
        )
        .limit(1)
    )
    if exists is not None:
        return False
    session.add(
        Suppression(
            contact_id=contact_id,
            address_hash=address_hash,
            channel=channel,
            reason=reason,
            source=source[:128],
            created_at=now,
        )
    )
    session.flush()
    return True


def lift_address(
    session: Session,
    *,
    address_hash: str,
    channel: Channel,
    reason: SuppressionReason,
    contact_ids: Sequence[int] = (),
) -> int:
    """Delete the address's suppressions on ``channel`` for ``reason`` (and those of
    ``contact_ids`` on that channel); how many went.

    Only for a person's own opt-in again (SMS START): every-channel suppressions
    (objections, erasure) are never lifted here.
    """
    whose = Suppression.address_hash == address_hash
    if contact_ids:
        whose = or_(whose, Suppression.contact_id.in_(list(contact_ids)))
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # DML: a cursor
        delete(Suppression)
        .where(whose, Suppression.channel == channel, Suppression.reason == reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
