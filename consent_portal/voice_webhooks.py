"""Twilio voice webhooks: the call's TwiML and the DTMF answer.

Every request must carry a valid ``X-Twilio-Signature`` computed over the
public URL Twilio was given (``settings.portal_base_url`` + path + query, never
the Host header) and the POST parameters; otherwise 403 and nothing recorded.
No auth token configured means every request is refused.

One question per purpose of the wave (``?q=N`` on the gather URL): 1 gives
that purpose, 2 refuses it, each answer its own event (the digit, the
question and the purpose asked in its evidence); 9 objects ("never call
again"), 3 sends the landing link by SMS (claimed here, sent after the
answer: :mod:`reconsent.feedback.ivr_sms_link`); another key repeats the
question, no key records nothing.

A valid signature is not enough (:func:`call_refusal`): the request must carry
every field Twilio sends, our AccountSid, the CallSid of the call placed for
that attempt and the contact's number; an answer is taken only on an open
request (or one this very call has answered) and never after the person
objected or was suppressed for calls. One idempotency key per (request,
step, question): the same answer twice records one event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from twilio.twiml.voice_response import VoiceResponse

from channels.ivr_twiml import Voice
from consent_portal.i18n import choose_locale
from consent_portal.state import OpenLink, Portal, open_link, portal_of, retry_on_conflict, run_sync
from consent_portal.twilio_requests import (
    call_refusal,
    is_machine,
    signed_url,
    verified_form,
)
from models import ConsentEvent, Contact, WaveRequest
from reconsent.campaigns.notices import message_context
from reconsent.campaigns.spoken_notices import spoken_notice
from reconsent.campaigns.waves import wave_purposes
from reconsent.db import unit_of_work
from reconsent.eligibility.send_gate import stopped_on
from reconsent.feedback.ivr_sms_link import Claim, SmsLinkClaim, claim_sms_link, send_sms_link
from reconsent.kernel.errors import DecisionError, LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import (
    AddressKind,
    Channel,
    CollectionMethod,
    ConsentState,
    RequestStatus,
    SuppressionReason,
)
from reconsent.ledger.decisions import WaveCatalog, record_decision
from reconsent.ledger.objections import record_channel_optout
from reconsent.wiring import call_voice, sms_adapter

if TYPE_CHECKING:
    from reconsent.kernel.ports import MessageContext

VOICE_PATH = "/webhooks/twilio/voice"
GATHER_PATH = "/webhooks/twilio/voice/gather"
TWIML = "text/xml"

DIGIT_GIVE, DIGIT_REFUSE, DIGIT_SMS_LINK, DIGIT_OBJECT = "1", "2", "3", "9"

logger = logging.getLogger(__name__)


def _twiml(body: str) -> Response:
    return Response(body, media_type=TWIML)


def _hangup() -> Response:
    return _twiml(str(VoiceResponse().hangup()))


def _context(portal: Portal, session: Session, link: OpenLink) -> MessageContext:
    locale = choose_locale(None, link.contact.locale)
    return message_context(session, link.wave, locale, portal.settings)


def _voice_of(portal: Portal) -> Voice:
    return call_voice(portal.settings)


# --- the call's TwiML -----------------------------------------------------------------


async def voice(request: Request) -> Response:
    params, refused = await verified_form(request, VOICE_PATH)
    if refused is not None:
        return refused
    return await run_sync(_voice, portal_of(request), request, params)


def _voice(portal: Portal, request: Request, params: dict[str, str]) -> Response:
    from channels import ivr_twiml as ivr

    token = request.query_params.get("t", "")
    try:
        with unit_of_work(portal.engine) as session:
            link = open_link(session, portal, LinkUse.IVR, token)
            contact = session.get(Contact, link.contact.id)
            why = call_refusal(
                portal, params, link.provider_message_id, contact.phone_hash if contact else None
            )
            context = _context(portal, session, link)
    except LinkError:
        return _hangup()
    voice_ = _voice_of(portal)
    if why is not None or not context.purposes:
        logger.warning("twilio voice request refused: %s", why or "no purpose to ask")
        return _hangup()
    if is_machine(params.get("AnsweredBy", "")):
        return _twiml(ivr.machine_twiml(context, voice_))
    gather_url = ivr.gather_url_for(signed_url(portal, VOICE_PATH, request))
    audio_url = portal.settings.ivr_audio_urls.get(context.locale)
    return _twiml(ivr.call_twiml(context, gather_url, audio_url, voice_))


# --- the answer -----------------------------------------------------------------------


async def gather(request: Request) -> Response:
    params, refused = await verified_form(request, GATHER_PATH)
    if refused is not None:
        return refused
    return await run_sync(_gather, portal_of(request), request, params)


def _evidence(
    portal: Portal, params: dict[str, str], digits: str, question: int, purpose: str
) -> dict[str, str | None]:
    callee = params.get("To", "").strip()
    return {
        "call_sid": params.get("CallSid"),
        "digits": digits,
        "question": str(question + 1),
        "purpose_asked": purpose,
        "answered_by": params.get("AnsweredBy"),
        # The number called, as the suppression list's keyed hash: never in clear.
        "to_hash": address_hash(portal.address_key, AddressKind.PHONE, callee) if callee else None,
    }


def _question(request: Request) -> int | None:
    value = request.query_params.get("q", "0")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 4 else None


class _Ended(Exception):
    """The answer cannot be taken (closed request, objection since): end politely."""


def _this_call_answered(session: Session, request_id: int, call_sid: str) -> bool:
    return (
        session.scalar(
            select(ConsentEvent.id)
            .where(
                ConsentEvent.request_id == request_id,
                ConsentEvent.provider_message_id == call_sid,
            )
            .limit(1)
        )
        is not None
    )


def _this_call_gave(session: Session, request_id: int, call_sid: str) -> bool:
    return (
        session.scalar(
            select(ConsentEvent.id)
            .where(
                ConsentEvent.request_id == request_id,
                ConsentEvent.provider_message_id == call_sid,
                ConsentEvent.state == ConsentState.GIVEN,
            )
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class _Answered:
    context: MessageContext
    claim: SmsLinkClaim | None = None
    recorded: bool = False


def _gather(portal: Portal, request: Request, params: dict[str, str]) -> Response:
    from channels import ivr_twiml as ivr

    token = request.query_params.get("t", "")
    question = _question(request)
    digits = params.get("Digits", "").strip()
    call_sid = params.get("CallSid", "").strip()
    voice_ = _voice_of(portal)

    def claim_link(
        session: Session, link: OpenLink, contact: Contact, *, answered: bool
    ) -> SmsLinkClaim:
        request_row = session.get(WaveRequest, link.request_id)
        assert request_row is not None  # open_link just read it
        return claim_sms_link(
            session,
            request=request_row,
            contact=contact,
            wave=link.wave,
            ivr_step=link.payload.step_index,
            now=portal.clock.now(),
            answered=answered,
        )

    def record(session: Session) -> _Answered:
        link = open_link(session, portal, LinkUse.IVR, token)
        contact = session.get(Contact, link.contact.id)
        assert contact is not None  # open_link just read it
        context = _context(portal, session, link)
        why = call_refusal(portal, params, link.provider_message_id, contact.phone_hash)
        if why is not None or question is None or question >= len(context.purposes):
            logger.warning("twilio gather refused: %s", why or "no such question")
            raise LinkError("not our call")
        if link.request_status is not RequestStatus.ACTIVE and not _this_call_answered(
            session, link.request_id, call_sid
        ):
            raise _Ended("closed")
        if stopped_on(session, contact, Channel.IVR) is not None:
            raise _Ended("stopped")  # an objection (or an erasure...) since the call began
        asked = context.purposes[question].code
        evidence = _evidence(portal, params, digits, question, asked)
        if digits in (DIGIT_GIVE, DIGIT_REFUSE):
            # The notice presented is the one read on the phone, kept as its own version.
            audio = portal.settings.ivr_audio_urls.get(context.locale)
            script = ivr.call_script(context, voice_, audio)
            heard = spoken_notice(
                session, link.wave.notice_version, context.locale, script, portal.clock.now()
            )
            evidence["spoken_notice"] = heard.version
            record_decision(
                session,
                catalog=WaveCatalog(tuple(wave_purposes(session, link.config)), heard),
                request_id=link.request_id,
                choices={asked: digits == DIGIT_GIVE},
                method=CollectionMethod.IVR,
                channel=Channel.IVR,
                evidence=evidence,
                # One answer per (request, step, question): a replay changes nothing.
                nonce=f"ivr:{link.request_id}:{link.payload.step_index}:{question}",
                ctx=portal.ledger_context(),
                attempt_id=link.attempt_id,
                provider_message_id=call_sid,
            )
            confirmation: SmsLinkClaim | None = None
            if question + 1 == len(context.purposes) and _this_call_gave(
                session, link.request_id, call_sid
            ):
                # After a yes by phone: an SMS with the link to see, change or withdraw it.
                confirmation = claim_link(session, link, contact, answered=True)
            return _Answered(context, confirmation, recorded=True)
        if digits == DIGIT_OBJECT:
            # "Never call me again": calls stop (the phone purposes withdrawn, the number
            # suppressed for calls); e-mail and SMS are the person's to stop as they wish.
            record_channel_optout(
                session,
                contact_id=contact.id,
                channel=Channel.IVR,
                request_id=link.request_id,
                method=CollectionMethod.IVR,
                evidence=evidence,
                ctx=portal.ledger_context(),
                reason=SuppressionReason.OBJECTION,
            )
        elif digits == DIGIT_SMS_LINK:
            return _Answered(context, claim_link(session, link, contact, answered=False))
        return _Answered(context)

    try:
        answered = retry_on_conflict(portal.engine, record)
    except _Ended:
        with unit_of_work(portal.engine) as session:
            try:
                link = open_link(session, portal, LinkUse.IVR, token, check_expiry=False)
                context = _context(portal, session, link)
            except LinkError:
                return _hangup()
        return _twiml(ivr.ended_twiml(context, voice_))
    except (LinkError, DecisionError):
        return _hangup()
    assert question is not None  # checked in record
    context, claim = answered.context, answered.claim
    gather_url = ivr.gather_url_for(signed_url(portal, VOICE_PATH, request))
    if answered.recorded:
        said = ivr.recorded_phrase(context, digits)
        if question + 1 < len(context.purposes):
            return _twiml(ivr.question_twiml(context, question + 1, gather_url, voice_, said=said))
        texted = claim is not None and claim.attempt_id is not None
        return _with_sms(
            portal, _twiml(ivr.closing_twiml(context, voice_, said=said, texted=texted)), claim
        )
    if digits not in (DIGIT_OBJECT, DIGIT_SMS_LINK):
        said = ivr.invalid_phrase(context)
        return _twiml(ivr.question_twiml(context, question, gather_url, voice_, said=said))
    refused = claim is not None and claim.claim is Claim.REFUSED
    return _with_sms(
        portal, _twiml(ivr.answer_twiml(context, digits, voice_, sms_unavailable=refused)), claim
    )


def _with_sms(portal: Portal, answer: Response, claim: SmsLinkClaim | None) -> Response:
    """Send the claimed link SMS once the TwiML answer has gone (outside any transaction)."""
    if claim is not None and claim.attempt_id is not None:
        settings = portal.settings
        answer.background = BackgroundTask(
            send_sms_link,
            portal.engine,
            settings,
            claim.attempt_id,
            portal.clock.now(),
            lambda: sms_adapter(settings),
        )
    return answer
