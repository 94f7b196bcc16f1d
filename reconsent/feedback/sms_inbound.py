"""Inbound SMS replies: STOP objects, START re-allows messaging only, anything else gets help.

The sender is found by the keyed hash of the normalised number
(``Contact.phone_hash``), never by the number in clear; neither the number nor
the text is stored (evidence: the MessageSid, the keyword, the number's hash).

* **STOP-family** (see :mod:`reconsent.kernel.rules.sms_keywords`): for every
  non-erased contact with that number, :func:`reconsent.ledger.decisions.record_objection`
  with reason STOP, once per open request (each one closed) or once without a
  request: every given consent is withdrawn and the contact is suppressed on
  every channel, so no later step of any wave reaches them.  The number's hash
  is also suppressed on SMS (reason STOP), even when no contact matches.
* **START / UNSTOP**: the number's SMS STOP suppression (the address-level
  row) is deleted, so the number may be messaged again; the contact-wide
  objection and every withdrawal stay: START is never consent.  The
  ``webhook_events`` row of the message keeps when it happened.
* **HELP / INFO / anything else**: nothing is recorded.

The same MessageSid twice changes nothing (``replay``: the portal answers with
an empty TwiML so the person is not texted twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
from reconsent.ledger.decisions import record_objection
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
        _stop(session, sms, digest, contacts, ctx)
    elif keyword is SmsKeyword.START and digest is not None:
        lift_address(
            session, address_hash=digest, channel=Channel.SMS, reason=SuppressionReason.STOP
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


def _stop(
    session: Session,
    sms: InboundSms,
    digest: str | None,
    contacts: list[Contact],
    ctx: LedgerContext,
) -> None:
    evidence = {
        "message_sid": sms.message_sid,
        "keyword": first_word(sms.body),
        "from_hash": digest,
    }
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
    if digest is not None:
        suppress_address(
            session,
            address_hash=digest,
            channel=Channel.SMS,
            reason=SuppressionReason.STOP,
            source="sms:stop",
            now=ctx.now,
        )


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
