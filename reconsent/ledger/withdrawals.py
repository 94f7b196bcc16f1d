"""Withdrawing one purpose at a person's word, outside any wave (a call to our number).

A withdrawal is a new WITHDRAWN event per contact that holds the purpose GIVEN
(every CRM id of the same person: the caller is identified by their number), in
the same lock every "no" takes (so a batch going out never crosses it). The
same call pressing the same key twice records it once (a dedupe key per call,
contact and purpose). Nothing is ever given this way: a caller id can be
spoofed, and a spoofed "no" costs a message, a spoofed "yes" would cost the law.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose
from reconsent.db import hold_contacts
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import Channel, CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.ledger.objections import SUBJECT_ACTOR

__all__ = ["given_purposes", "withdraw_purpose"]


def given_purposes(session: Session, contact_ids: Sequence[int]) -> list[Purpose]:
    """The purposes any of ``contact_ids`` holds GIVEN now, in catalog order."""
    if not contact_ids:
        return []
    return list(
        session.scalars(
            select(Purpose)
            .where(
                Purpose.id.in_(
                    select(ConsentStatus.purpose_id).where(
                        ConsentStatus.contact_id.in_(list(contact_ids)),
                        ConsentStatus.state == ConsentState.GIVEN,
                    )
                )
            )
            .order_by(Purpose.id)
        )
    )


def withdraw_purpose(
    session: Session,
    contact_ids: Sequence[int],
    purpose: Purpose,
    *,
    method: CollectionMethod,
    channel: Channel | None,
    evidence: dict[str, Any],
    nonce: str,
    ctx: LedgerContext,
) -> int:
    """Withdraw ``purpose`` for each of ``contact_ids`` that holds it GIVEN; how many."""
    ids = sorted(set(contact_ids))
    hold_contacts(session, ids, exclusive=True)
    holders = session.scalars(
        select(Contact)
        .join(ConsentStatus, ConsentStatus.contact_id == Contact.id)
        .where(
            Contact.id.in_(ids),
            ConsentStatus.purpose_id == purpose.id,
            ConsentStatus.state == ConsentState.GIVEN,
        )
    ).all()
    written = append_events(
        session,
        [
            NewEvent(
                contact_id=contact.id,
                subject_id=contact.subject_id,
                purpose=purpose,
                state=ConsentState.WITHDRAWN,
                occurred_at=ctx.now,
                method=method,
                actor=SUBJECT_ACTOR,
                channel=channel,
                language=language_of(contact.locale),
                evidence=dict(evidence),
                source="withdrawal:inbound_call",
                dedupe_key=hashlib.sha256(
                    f"{nonce}:{contact.id}:{purpose.code}".encode()
                ).hexdigest(),
            )
            for contact in holders
        ],
        ctx,
    )
    return len(written)
