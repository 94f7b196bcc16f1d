"""Inbound SMS replies: STOP objects, START re-allows messaging only, anything else gets help.

The sender is found by the keyed hash of the normalised number
(``Contact.phone_hash``), never by the number in clear; neither the number nor
the text is stored (evidence: the MessageSid, the keyword, the number's hash).

* **STOP-family** (see :mod:`reconsent.kernel.rules.sms_keywords`): *no more SMS*.
  For every non-erased contact with that number,
  :func:`reconsent.ledger.objections.record_channel_optout`: the SMS-bound purposes
  they had given are withdrawn and they are suppressed on SMS; the number's hash is
  suppressed on SMS (reason STOP) even when no contact matches. E-mail and calls
  are untouched (a STOP for SMS stops SMS); the reply says how to stop the rest.
* **STOPALL**: *never contact me*. :func:`reconsent.ledger.objections.record_objection`
  with reason STOP, once per open request (each one closed) or once without a
  request: every given consent is withdrawn, the contact and each of their
  addresses suppressed on every channel.
* **START / UNSTOP**: the number's SMS STOP suppressions (the number's, and
  those of the contacts holding it) are deleted, so the number may be messaged
  again; every withdrawal and any every-channel objection (STOPALL) stay: START
  is never consent, so no wave texts them without a new SMS consent.  The
  ``webhook_events`` row of the message keeps when it happened.
* **HELP / INFO / anything else**: nothing is recorded.

The same MessageSid twice changes nothing (``replay``: the portal answers with
an empty TwiML so the person is not texted twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, SendAttempt, WaveRequest
from reconsent.feedback.webhook_keys import event_key, first_time
from reconsent.kernel.errors import AddressError
from reconsent.kernel.rules.addresses import address_hash, normalise_phone
from reconsent.kernel.rules.sms_keywords import SmsKeyword, first_word, parse_reply
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.objections import record_channel_optout, record_objection
from reconsent.ledger.suppression_list import lift_address, suppress_address

__all__ = ["InboundReply", "InboundSms", "handle_inbound_sms"]

#: Signs a one-click opt-out link for (request id, step index).
OptoutSigner = Callable[[int, int], str]


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    sender: str  # the From number as Twilio sends it (E.164); hashed, never stored
    body: str


@dataclass(frozen=True)
class InboundReply:
    keyword: SmsKeyword
    replay: bool
    locale: str
    contacts: int  # how many contacts the number belongs to
    optout_link: str | None = None


def handle_inbound_sms(
    session: Session,
    sms: InboundSms,
    *,
    address_key: bytes,
    region: str,
    ctx: LedgerContext,
    sign_optout: OptoutSigner,
) -> InboundReply:
    keyword = parse_reply(sms.body)
    default_locale = "it" if region.upper() == "IT" else "en"
    if not first_time(session, "twilio", event_key("twilio-inbound", sms.message_sid), ctx.now):
        return InboundReply(keyword, True, default_locale, 0)
    try:
        digest: str | None = address_hash(
            address_key, AddressKind.PHONE, normalise_phone(sms.sender, region)
        )
    except AddressError:
        digest = None
    contacts = _contacts(session, digest)
    locale = contacts[0].locale if contacts else default_locale
    if keyword is SmsKeyword.STOP:
        _stop_sms(session, sms, digest, contacts, ctx)
    elif keyword is SmsKeyword.STOP_ALL:
        _stop_all(session, sms, digest, contacts, ctx)
    elif keyword is SmsKeyword.START and digest is not None:
        lift_address(
            session,
            address_hash=digest,
            channel=Channel.SMS,
            reason=SuppressionReason.STOP,
            source="sms:start",
            now=ctx.now,
            contact_ids=[c.id for c in contacts],
        )
    link = None
    if keyword in (SmsKeyword.HELP, SmsKeyword.OTHER) and contacts:
        link = _optout_link(session, contacts[0], sign_optout)
    return InboundReply(keyword, False, locale, len(contacts), link)


def _contacts(session: Session, digest: str | None) -> list[Contact]:
    if digest is None:
        return []
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.phone_hash == digest, Contact.erased_at.is_(None))
            .order_by(Contact.id)
        )
    )


def _evidence(sms: InboundSms, digest: str | None) -> dict[str, Any]:
    return {"message_sid": sms.message_sid, "keyword": first_word(sms.body), "from_hash": digest}


def _stop_sms(
    session: Session,
    sms: InboundSms,
    digest: str | None,
    contacts: list[Contact],
    ctx: LedgerContext,
) -> None:
    for contact in contacts:
        record_channel_optout(
            session,
            contact_id=contact.id,
            channel=Channel.SMS,
            request_id=None,
            method=CollectionMethod.SMS,
            evidence=_evidence(sms, digest),
            ctx=ctx,
            reason=SuppressionReason.STOP,
        )
    _suppress_number(session, digest, ctx)


def _suppress_number(session: Session, digest: str | None, ctx: LedgerContext) -> None:
    if digest is not None:
        suppress_address(
            session,
            address_hash=digest,
            channel=Channel.SMS,
            reason=SuppressionReason.STOP,
            source="sms:stop",
            now=ctx.now,
        )


def _stop_all(
    session: Session,
    sms: InboundSms,
    digest: str | None,
    contacts: list[Contact],
    ctx: LedgerContext,
) -> None:
    evidence = _evidence(sms, digest)
    for contact in contacts:
        open_ids: list[int | None] = list(
            session.scalars(
                select(WaveRequest.id)
                .where(
                    WaveRequest.contact_id == contact.id,
                    WaveRequest.status == RequestStatus.ACTIVE,
                )
                .order_by(WaveRequest.id)
            )
        )
        for request_id in open_ids or [None]:
            record_objection(
                session,
                request_id=request_id,
                contact_id=contact.id,
                method=CollectionMethod.SMS,
                channel=Channel.SMS,
                evidence=evidence,
                ctx=ctx,
                reason=SuppressionReason.STOP,
            )
    _suppress_number(session, digest, ctx)


def _optout_link(session: Session, contact: Contact, sign: OptoutSigner) -> str | None:
    """The opt-out link of the contact's latest request, at its latest SMS step if any."""
    request = session.scalar(
        select(WaveRequest)
        .where(WaveRequest.contact_id == contact.id)
        .order_by(WaveRequest.id.desc())
        .limit(1)
    )
    if request is None:
        return None
    sms_step = session.scalar(
        select(SendAttempt.step_index)
        .where(SendAttempt.request_id == request.id, SendAttempt.channel == Channel.SMS)
        .order_by(SendAttempt.id.desc())
        .limit(1)
    )
    return sign(request.id, request.step_index if sms_step is None else sms_step)
