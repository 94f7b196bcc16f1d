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
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from channels.ivr_twiml import Voice
from consent_portal.i18n import choose_locale
from consent_portal.state import OpenLink, Portal, open_link, portal_of, retry_on_conflict, run_sync
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
SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML = "text/xml"
MAX_FIELDS = 200

DIGIT_GIVE, DIGIT_REFUSE, DIGIT_SMS_LINK, DIGIT_OBJECT = "1", "2", "3", "9"

logger = logging.getLogger(__name__)


def signed_url(portal: Portal, path: str, request: Request) -> str:
    """The URL Twilio signed: our public base, the route's path and the raw query."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return portal.public_url(path) + (f"?{query}" if query else "")


def signature_ok(portal: Portal, path: str, request: Request, form: FormData) -> bool:
    token = portal.settings.twilio_auth_token
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if token is None or not token.get_secret_value() or not signature:
        return False
    validator = RequestValidator(token.get_secret_value())
    return bool(validator.validate(signed_url(portal, path, request), form, signature))


def is_machine(answered_by: str) -> bool:
    """Twilio's AnsweredBy: machine_start, machine_end_beep, ..., fax, human, unknown."""
    value = answered_by.strip().lower()
    return value.startswith("machine") or value == "fax"


def _twiml(body: str) -> Response:
    return Response(body, media_type=TWIML)


def _hangup() -> Response:
    return _twiml(str(VoiceResponse().hangup()))


async def _verified_form(request: Request, path: str) -> tuple[dict[str, str], Response | None]:
    async with request.form(max_files=0, max_fields=MAX_FIELDS) as form:
        if not signature_ok(portal_of(request), path, request, form):
            logger.warning("twilio webhook refused: bad or missing signature on %s", path)
            return {}, PlainTextResponse("forbidden", status_code=403)
        params = {key: value for key, value in form.items() if isinstance(value, str)}
    return params, None


def _context(portal: Portal, session: Session, link: OpenLink) -> MessageContext:
    locale = choose_locale(None, link.contact.locale)
    return message_context(session, link.wave, locale, portal.settings)


#: Parameters Twilio sends with every voice request: a set without one of them was not
#: made by Twilio (e.g. a signed body re-cut at another parameter boundary).
REQUIRED = frozenset(
    {"AccountSid", "ApiVersion", "CallSid", "CallStatus", "Direction", "From", "To"}
)
_CALL_SID = re.compile(r"CA[0-9a-f]{32}")


def call_refusal(
    portal: Portal, params: dict[str, str], placed_sid: str | None, phone_hash: str | None
) -> str | None:
    """Why this (signed) request is not about the call we placed, or None.

    The signature alone does not bind a request to our call: Twilio's scheme
    concatenates names and values with no separator, so a captured body can be
    re-cut under the same signature. So: every field Twilio always sends, our
    account, a well-formed CallSid that is the call placed for this attempt (when the
    dispatcher has recorded it), and the number called is the contact's.
    """
    if not {k for k, v in params.items() if v.strip()} >= REQUIRED:
        return "incomplete"
    if params["AccountSid"].strip() != (portal.settings.twilio_account_sid or ""):
        return "account"
    call_sid = params["CallSid"].strip()
    if not _CALL_SID.fullmatch(call_sid):
        return "call_sid"
    if placed_sid and _CALL_SID.fullmatch(placed_sid) and call_sid != placed_sid:
        return "other_call"  # (an attempt the file outbox "placed" has no CallSid)
    callee = params["To"].strip()
    called = address_hash(portal.address_key, AddressKind.PHONE, callee) if callee else None
    if phone_hash is None or called != phone_hash:
        return "callee"
    return None


def _voice_of(portal: Portal) -> Voice:
    return call_voice(portal.settings)


# --- the call's TwiML -----------------------------------------------------------------


async def voice(request: Request) -> Response:
    params, refused = await _verified_form(request, VOICE_PATH)
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
    params, refused = await _verified_form(request, GATHER_PATH)
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
            return _Answered(context, recorded=True)
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
            request_row = session.get(WaveRequest, link.request_id)
            assert request_row is not None  # open_link just read it
            claim = claim_sms_link(
                session,
                request=request_row,
                contact=contact,
                wave=link.wave,
                ivr_step=link.payload.step_index,
                now=portal.clock.now(),
            )
            return _Answered(context, claim)
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
        return _twiml(ivr.closing_twiml(context, voice_, said=said))
    if digits not in (DIGIT_OBJECT, DIGIT_SMS_LINK):
        said = ivr.invalid_phrase(context)
        return _twiml(ivr.question_twiml(context, question, gather_url, voice_, said=said))
    refused = claim is not None and claim.claim is Claim.REFUSED
    answer = _twiml(ivr.answer_twiml(context, digits, voice_, sms_unavailable=refused))
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
