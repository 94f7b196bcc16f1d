"""Per-channel address suppressions written by the provider callbacks (bounces, STOP).

The contact-wide suppressions of an objection are written by
:func:`reconsent.ledger.objections.record_objection`; these are the address-level ones:
an address hash on one channel, kept even when the contact is erased, so the
address is never used again on that channel whoever it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from models import Suppression, SuppressionLift, suppression_in_force
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
    """Add the suppression unless the same (hash, channel, reason) is in force; True when
    added (after a lift, the same STOP is a new row)."""
    exists = session.scalar(
        select(Suppression.id)
        .where(
            Suppression.address_hash == address_hash,
            Suppression.channel == channel,
            Suppression.reason == reason,
            suppression_in_force(),
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
    source: str,
    now: datetime,
    contact_ids: Sequence[int] = (),
) -> int:
    """Lift the address's suppressions in force on ``channel`` for ``reason`` (and those
    of ``contact_ids`` on that channel); how many were lifted.

    A lift is a new row (``suppression_lifts``), never a delete: the suppression stays
    as history, and verify holds both to the suppression log. Only for a person's own
    opt-in again (SMS START): every-channel suppressions (objections, erasure) are never
    lifted here.
    """
    whose = Suppression.address_hash == address_hash
    if contact_ids:
        whose = or_(whose, Suppression.contact_id.in_(list(contact_ids)))
    ids = session.scalars(
        select(Suppression.id)
        .where(
            whose,
            Suppression.channel == channel,
            Suppression.reason == reason,
            suppression_in_force(),
        )
        .order_by(Suppression.id)
    ).all()
    if ids:
        session.execute(
            insert(SuppressionLift),
            [{"suppression_id": i, "source": source[:128], "lifted_at": now} for i in ids],
        )
    return len(ids)
