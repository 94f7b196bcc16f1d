"""Saying no to a channel or to everything: withdrawals, suppressions, closings.

Two strengths of "no" (domain.md, "withdrawal as easy as giving"):

* :func:`record_channel_optout`: *stop this channel* (an SMS STOP, IVR key 9
  "never call me again", an e-mail unsubscribe). The purposes bound to that
  channel that the person had given are WITHDRAWN; the channel's address is
  suppressed on that channel (by its keyed hash, so a re-import under another
  CRM id is never texted or called again). Other channels and purposes are
  untouched, and the open requests go on there.
* :func:`record_objection`: *never contact me* (art. 21: the rights centre,
  the one-click opt-out, STOPALL, a spam report). Every given purpose is
  WITHDRAWN, the contact is suppressed on every channel, each of their
  addresses on the channels that use it, and every open request is closed.

Both run in the caller's unit of work, after taking the person's hand-over
lock (:func:`reconsent.db.hold_contacts`), so a chunk of messages being handed
to a provider either sees the "no" or is already gone before it commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    ConsentStatus,
    Contact,
    Purpose,
    Suppression,
    WaveRequest,
    suppression_in_force,
)
from reconsent.crm_outbox.event_payloads import enqueue_objection
from reconsent.db import hold_contacts
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import (
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.ledger.decision_rows import Closing, close_requests
from reconsent.ledger.suppression_list import suppress_address

__all__ = [
    "ADDRESS_CHANNELS",
    "record_channel_optout",
    "record_objection",
    "suppress_person_addresses",
]

#: Who acts when a person decides for themselves.
SUBJECT_ACTOR = "subject"

#: The channels each address serves.
ADDRESS_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "email": (Channel.EMAIL,),
    "phone": (Channel.SMS, Channel.IVR),
}


def suppress_person_addresses(
    session: Session,
    contact: Contact,
    reason: SuppressionReason,
    source: str,
    ctx: LedgerContext,
    channels: Iterable[Channel] = tuple(Channel),
) -> None:
    """Suppress each of ``contact``'s addresses on ``channels`` (that the address serves),
    by its keyed hash: whoever holds that address later is not asked there."""
    wanted = set(channels)
    for kind, digest in (("email", contact.email_hash), ("phone", contact.phone_hash)):
        if not digest:
            continue
        for channel in ADDRESS_CHANNELS[kind]:
            if channel in wanted:
                suppress_address(
                    session,
                    address_hash=digest,
                    channel=channel,
                    reason=reason,
                    source=source,
                    now=ctx.now,
                    contact_id=contact.id,
                )


def _withdraw(
    session: Session,
    contact: Contact,
    purposes: list[Purpose],
    *,
    request: WaveRequest | None,
    method: CollectionMethod,
    channel: Channel | None,
    evidence: dict[str, Any],
    reason: SuppressionReason,
    ctx: LedgerContext,
) -> None:
    append_events(
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
                wave_id=request.wave_id if request else None,
                request_id=request.id if request else None,
                evidence={**evidence, "reason": reason.value},
                source=f"objection:{reason.value}",
            )
            for purpose in purposes
        ],
        ctx,
    )


def _suppress_contact(
    session: Session,
    contact_id: int,
    channel: Channel | None,
    reason: SuppressionReason,
    source: str,
    ctx: LedgerContext,
) -> None:
    """The contact's own suppression on ``channel`` (None: every channel), once per reason."""
    same_channel = (
        Suppression.channel.is_(None) if channel is None else Suppression.channel == channel
    )
    already = session.scalar(
        select(Suppression.id)
        .where(
            Suppression.contact_id == contact_id,
            same_channel,
            Suppression.reason == reason,
            suppression_in_force(),
        )
        .limit(1)
    )
    if already is None:
        session.add(
            Suppression(
                contact_id=contact_id,
                address_hash=None,
                channel=channel,
                reason=reason,
                source=source,
                created_at=ctx.now,
            )
        )


def _given(session: Session, contact_id: int, channel: Channel | None = None) -> list[Purpose]:
    query = (
        select(Purpose)
        .join(ConsentStatus, ConsentStatus.purpose_id == Purpose.id)
        .where(ConsentStatus.contact_id == contact_id, ConsentStatus.state == ConsentState.GIVEN)
        .order_by(Purpose.id)
    )
    if channel is not None:
        query = query.where(Purpose.channel == channel)
    return list(session.scalars(query))


def _contact_and_request(
    session: Session, contact_id: int, request_id: int | None
) -> tuple[Contact, WaveRequest | None]:
    hold_contacts(session, [contact_id], exclusive=True)
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise DecisionError(f"contact {contact_id} does not exist")
    request: WaveRequest | None = None
    if request_id is not None:
        request = session.get(WaveRequest, request_id)
        if request is None or request.contact_id != contact_id:
            raise DecisionError(f"request {request_id} does not belong to contact {contact_id}")
    return contact, request


def record_channel_optout(
    session: Session,
    *,
    contact_id: int,
    channel: Channel,
    request_id: int | None,
    method: CollectionMethod,
    evidence: dict[str, Any],
    ctx: LedgerContext,
    reason: SuppressionReason,
) -> list[str]:
    """Stop ``channel`` for this person (see the module); the purpose codes withdrawn."""
    contact, request = _contact_and_request(session, contact_id, request_id)
    purposes = _given(session, contact.id, channel)
    _withdraw(
        session,
        contact,
        purposes,
        request=request,
        method=method,
        channel=channel,
        evidence=evidence,
        reason=reason,
        ctx=ctx,
    )
    source = f"{method.value}:{reason.value}"
    _suppress_contact(session, contact.id, channel, reason, source, ctx)
    suppress_person_addresses(session, contact, reason, source, ctx, channels=[channel])
    return [p.code for p in purposes]


def record_objection(
    session: Session,
    *,
    request_id: int | None,
    contact_id: int,
    method: CollectionMethod,
    channel: Channel | None,
    evidence: dict[str, Any],
    ctx: LedgerContext,
    reason: SuppressionReason = SuppressionReason.OBJECTION,
) -> None:
    """Art. 21 objection or "never contact me": every channel, every purpose, at once.

    Withdraws every purpose the contact has GIVEN, suppresses the contact on every
    channel (once per reason) and each of their addresses on its channels, and closes
    ``request_id``'s request as REFUSED; the person's other open requests are cancelled
    by the gate at their wave's next tick (nothing of theirs is handed over meanwhile).
    The CRM hears of it as ``objection.recorded`` (after each ``consent.changed``).
    """
    contact, request = _contact_and_request(session, contact_id, request_id)
    withdrawn = _given(session, contact.id)
    _withdraw(
        session,
        contact,
        withdrawn,
        request=request,
        method=method,
        channel=channel,
        evidence=evidence,
        reason=reason,
        ctx=ctx,
    )
    _suppress_contact(session, contact_id, None, reason, method.value, ctx)
    # Each address on the channels it serves, not every channel: a housemate who shares
    # the e-mail keeps their own phone (an erasure too: its rows outlive the identity).
    erasure = reason is SuppressionReason.ERASURE
    source = "rights:erasure" if erasure else f"{method.value}:{reason.value}"
    suppress_person_addresses(session, contact, reason, source, ctx)
    if request is not None:
        close_requests(
            session, [Closing(request.id, RequestStatus.REFUSED, channel, reason.value)], ctx.now
        )
    enqueue_objection(
        session.connection(),
        contact=contact,
        reason=reason.value,
        method=method.value,
        channel=channel.value if channel else None,
        withdrawn=[p.code for p in withdrawn],
        now=ctx.now,
    )
