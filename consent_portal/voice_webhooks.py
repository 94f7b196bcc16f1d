"""Twilio voice webhooks: the call's TwiML and the DTMF answer.

Every request must carry a valid ``X-Twilio-Signature`` computed over the
public URL Twilio was given (``settings.portal_base_url`` + path + query, never
the Host header) and the POST parameters; otherwise 403 and nothing recorded.
No auth token configured means every request is refused.

Keys on the call: 1 gives every purpose of the wave, 2 refuses them all,
9 objects ("never call again"), 3 sends the landing link by SMS (claimed here,
sent after the answer: :mod:`reconsent.feedback.ivr_sms_link`); anything else records
nothing.  The CallSid is the replay key: the same callback twice changes
nothing (and key 3 sends one SMS per request and IVR step).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from consent_portal.i18n import choose_locale
from consent_portal.state import OpenLink, Portal, open_link, portal_of, retry_on_conflict, run_sync
from models import Contact, WaveRequest
from reconsent.campaigns.notices import message_context
from reconsent.db import unit_of_work
from reconsent.feedback.ivr_sms_link import Claim, SmsLinkClaim, claim_sms_link, send_sms_link
from reconsent.kernel.errors import DecisionError, LinkError
from reconsent.kernel.links import LinkUse
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, Channel, CollectionMethod, SuppressionReason
from reconsent.ledger.decisions import record_decision
from reconsent.ledger.objections import record_channel_optout
from reconsent.wiring import sms_adapter

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
            context = _context(portal, session, link)
    except LinkError:
        return _hangup()
    if is_machine(params.get("AnsweredBy", "")):
        hint = urlsplit(portal.settings.portal_base_url).hostname or ""
        return _twiml(ivr.machine_twiml(context, hint))
    gather_url = ivr.gather_url_for(signed_url(portal, VOICE_PATH, request))
    audio_url = portal.settings.ivr_audio_urls.get(context.locale)
    return _twiml(ivr.call_twiml(context, gather_url, audio_url))


# --- the answer -----------------------------------------------------------------------


async def gather(request: Request) -> Response:
    params, refused = await _verified_form(request, GATHER_PATH)
    if refused is not None:
        return refused
    return await run_sync(_gather, portal_of(request), request, params)


def _evidence(portal: Portal, params: dict[str, str], digits: str) -> dict[str, str | None]:
    callee = params.get("To", "").strip()
    return {
        "call_sid": params.get("CallSid"),
        "digits": digits,
        "answered_by": params.get("AnsweredBy"),
        # The number called, as the suppression list's keyed hash: never in clear.
        "to_hash": address_hash(portal.address_key, AddressKind.PHONE, callee) if callee else None,
    }


def _gather(portal: Portal, request: Request, params: dict[str, str]) -> Response:
    from channels import ivr_twiml as ivr

    token = request.query_params.get("t", "")
    digits = params.get("Digits", "").strip()
    call_sid = params.get("CallSid", "").strip() or None
    evidence = _evidence(portal, params, digits)

    def record(session: Session) -> tuple[MessageContext, SmsLinkClaim | None]:
        link = open_link(session, portal, LinkUse.IVR, token)
        claim: SmsLinkClaim | None = None
        if call_sid is not None and digits in (DIGIT_GIVE, DIGIT_REFUSE):
            record_decision(
                session,
                request_id=link.request_id,
                choices=dict.fromkeys(link.config.purposes, digits == DIGIT_GIVE),
                method=CollectionMethod.IVR,
                channel=Channel.IVR,
                evidence=evidence,
                nonce=call_sid,
                ctx=portal.ledger_context(),
                attempt_id=link.attempt_id,
                provider_message_id=call_sid,
            )
        elif call_sid is not None and digits == DIGIT_OBJECT:
            # "Never call me again": calls stop (the phone purposes withdrawn, the number
            # suppressed for calls); e-mail and SMS are the person's to stop as they wish.
            record_channel_optout(
                session,
                contact_id=link.contact.id,
                channel=Channel.IVR,
                request_id=link.request_id,
                method=CollectionMethod.IVR,
                evidence=evidence,
                ctx=portal.ledger_context(),
                reason=SuppressionReason.OBJECTION,
            )
        elif call_sid is not None and digits == DIGIT_SMS_LINK:
            request_row = session.get(WaveRequest, link.request_id)
            contact = session.get(Contact, link.contact.id)
            assert request_row is not None and contact is not None  # open_link just read them
            claim = claim_sms_link(
                session,
                request=request_row,
                contact=contact,
                wave=link.wave,
                ivr_step=link.payload.step_index,
                now=portal.clock.now(),
            )
        return _context(portal, session, link), claim

    try:
        context, claim = retry_on_conflict(portal.engine, record)
    except (LinkError, DecisionError):
        return _hangup()
    refused = claim is not None and claim.claim is Claim.REFUSED
    answer = _twiml(ivr.answer_twiml(context, digits, sms_unavailable=refused))
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
