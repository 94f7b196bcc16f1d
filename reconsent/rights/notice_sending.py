"""Telling the person what became of their request: one message per request and action.

:func:`queue_notice` runs in the unit of work that extends, completes, declines
or lifts: it writes one ``rights_notices`` row (unique per request and action,
so a retried command adds none) with the channel and the address it goes to
(the person's e-mail if they have one, else an SMS; neither: ``no_address``,
for the operator to write by letter). :func:`send_notices` then sends what is
pending through the channel adapters, in three steps like every send here:

1. claim (``pending`` -> ``sending``, compare-and-set: two callers never both send);
2. render (:mod:`reconsent.rights.notice_text`, the person's language) and send;
3. record: ``sent`` with the provider's message id, or ``failed`` (permanent), or
   ``pending`` again (transient). The address is nulled once the notice has an
   outcome.

A claim whose outcome was lost (a crash between 2 and 3) stays ``sending``: it is
sent again only through an adapter for which a repeat is harmless (the file
outbox); otherwise it is listed for the operator, never sent twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from models import Contact, RightsNotice, RightsRequest
from reconsent.db import unit_of_work
from reconsent.kernel.ports import ChannelAdapter, MessageContext, OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel
from reconsent.rights.history import log_step
from reconsent.rights.notice_text import NoticeFacts, render_notice
from reconsent.rights.transitions import authority_for
from reconsent.settings import Settings

__all__ = ["NoticeReport", "queue_notice", "send_notices"]

log = logging.getLogger(__name__)


@dataclass
class NoticeReport:
    """Counts only: safe for logs."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    retrying: int = 0
    no_address: int = 0
    unconfirmed: int = 0


def queue_notice(
    session: Session,
    row: RightsRequest,
    contact: Contact,
    action: str,
    now: datetime,
    *,
    target: tuple[Channel, str] | None,
) -> RightsNotice:
    """The notice of ``action`` for ``row`` (the one already queued, if any).

    ``target`` is where it goes (:func:`reconsent.rights.transitions.notice_channel`),
    read by the caller before it changed the contact (an erasure removes the address
    the notice of its completion goes to).
    """
    earlier = session.scalar(
        select(RightsNotice).where(
            RightsNotice.rights_request_id == row.id, RightsNotice.action == action
        )
    )
    if earlier is not None:
        return earlier
    where = target
    notice = RightsNotice(
        rights_request_id=row.id,
        action=action,
        channel=where[0] if where else None,
        to_address=where[1] if where else None,
        status="pending" if where else "no_address",
        locale=contact.locale,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    if where is None:
        log_step(
            session, row, "notice_not_sent", now, details={"action": action, "why": "no_address"}
        )
    return notice


@dataclass(frozen=True)
class _Claimed:
    notice_id: int
    message: OutboundMessage


def _facts(
    notice: RightsNotice, row: RightsRequest, contact: Contact, settings: Settings
) -> NoticeFacts:
    reason = row.extension_reason if notice.action == "extended" else row.outcome_reason
    return NoticeFacts(
        action=notice.action,
        kind=row.kind.value,
        reference=row.id,
        locale=notice.locale,
        timezone=contact.timezone,
        received_at=row.received_at,
        due_at=row.due_at,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        authority=authority_for(settings.jurisdiction),
        reason=reason,
        months=row.extension_months,
        name=contact.given_name,
    )


def _context(notice: RightsNotice, settings: Settings) -> MessageContext:
    """The adapters' shared context (the notice carries its own words)."""
    return MessageContext(
        wave_name="rights",
        locale=notice.locale,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        purposes=(),
        link_lifetime_days=0,
    )


def _claim(
    session: Session,
    settings: Settings,
    adapter_for: Callable[[Channel], ChannelAdapter],
    request_id: int | None,
    report: NoticeReport,
) -> list[_Claimed]:
    query = (
        select(RightsNotice, RightsRequest, Contact)
        .join(RightsRequest, RightsRequest.id == RightsNotice.rights_request_id)
        .join(Contact, Contact.id == RightsRequest.contact_id)
        .where(RightsNotice.status.in_(("pending", "sending")))
        .order_by(RightsNotice.id)
    )
    if request_id is not None:
        query = query.where(RightsNotice.rights_request_id == request_id)
    claimed: list[_Claimed] = []
    for notice, row, contact in session.execute(query).all():
        assert notice.channel is not None and notice.to_address is not None
        adapter = adapter_for(notice.channel)
        if notice.status == "sending" and not adapter.idempotent:
            report.unconfirmed += 1  # handed over, outcome lost: never sent twice
            continue
        won = session.execute(
            update(RightsNotice)
            .where(RightsNotice.id == notice.id, RightsNotice.status == notice.status)
            .values(status="sending")
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            continue  # another caller claimed it
        message = OutboundMessage(
            attempt_id=notice.id,
            request_id=row.id,
            channel=notice.channel,
            to=notice.to_address,
            context=_context(notice, settings),
            link="",
            optout_link="",
            to_name=contact.given_name,
            notice=render_notice(_facts(notice, row, contact, settings)),
        )
        claimed.append(_Claimed(notice.id, message))
    return claimed


def send_notices(
    engine: Engine,
    settings: Settings,
    adapter_for: Callable[[Channel], ChannelAdapter],
    now: datetime,
    *,
    request_id: int | None = None,
) -> NoticeReport:
    """Send the pending notices (of one request, or all), each at most once."""
    report = NoticeReport()
    with unit_of_work(engine) as session:
        claimed = _claim(session, settings, adapter_for, request_id, report)
    results = {}
    for channel in Channel:
        batch = [c.message for c in claimed if c.message.channel is channel]
        if batch:
            results.update({r.attempt_id: r for r in adapter_for(channel).send(batch)})
    with unit_of_work(engine) as session:
        for item in claimed:
            notice = session.get_one(RightsNotice, item.notice_id)
            row = session.get_one(RightsRequest, notice.rights_request_id)
            result = results.get(item.notice_id)
            if result is None or result.outcome is SendOutcome.TRANSIENT:
                notice.status = "pending"
                notice.error_code = (result.error_code if result else None) or "transient"
                report.retrying += 1
                continue
            notice.provider = result.provider
            notice.to_address = None  # an outcome: the address is not needed any more
            details = {"action": notice.action, "channel": str(item.message.channel)}
            if result.outcome is SendOutcome.SENT:
                notice.status, notice.sent_at = "sent", now
                notice.provider_message_id = (result.provider_message_id or "")[:128] or None
                log_step(session, row, "notice_sent", now, details=details)
                report.sent[str(item.message.channel)] += 1
            else:
                notice.status, notice.error_code = "failed", result.error_code
                log_step(
                    session,
                    row,
                    "notice_failed",
                    now,
                    details={**details, "error": result.error_code},
                )
                report.failed += 1
    log.info(
        "rights notices: sent %s, failed %s, retrying %s",
        dict(report.sent),
        report.failed,
        report.retrying,
    )
    return report
