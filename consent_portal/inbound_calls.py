"""A way back by phone: a person calls our number to hear and withdraw their consents.

Set the number's Voice webhook to ``POST /webhooks/twilio/voice/inbound``.
The caller is identified by their number (``From``, matched by its keyed hash:
every contact with that number, i.e. every CRM id of the same person); the call
reads the consents they hold now, one key per purpose to withdraw it, 9 to stop
all marketing on every channel (an objection), 0 to end. Each withdrawal is
said back and the menu read again with what is left.

Only "no" is taken on this line, never a "yes": a caller id can be spoofed,
and a spoofed withdrawal costs a message while a spoofed consent would be
unlawful processing. Every request is checked like the outbound call's
(:func:`consent_portal.voice_webhooks.call_refusal` minus the placed call):
the signature, every field Twilio sends, our AccountSid, an inbound call.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from consent_portal.state import Portal, portal_of, retry_on_conflict, run_sync
from consent_portal.twilio_requests import twilio_call_refusal, verified_form
from models import Contact, Purpose
from reconsent.campaigns.notices import localized
from reconsent.db import unit_of_work
from reconsent.kernel.locales import resolve_language
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, CollectionMethod
from reconsent.ledger.objections import record_objection
from reconsent.ledger.withdrawals import given_purposes, withdraw_purpose
from reconsent.wiring import call_voice

__all__ = ["INBOUND_CHOICE_PATH", "INBOUND_PATH", "inbound_call", "inbound_choice"]

INBOUND_PATH = "/webhooks/twilio/voice/inbound"
INBOUND_CHOICE_PATH = "/webhooks/twilio/voice/inbound/choice"
TWIML = "text/xml"
GATHER_TIMEOUT_SECONDS = 8
DIGIT_OBJECT, DIGIT_END = "9", "0"
MAX_LISTED = 8  # keys 1-8: one purpose each

logger = logging.getLogger(__name__)

_WORDS = {
    "it": {
        "language": "it-IT",
        "hello": "Buongiorno, qui {controller}.",
        "unknown": "Non troviamo consensi legati a questo numero: non abbiamo registrato "
        "nulla. Per le sue richieste scriva a {contact}. Arrivederci.",
        "holds": "Per questo numero risultano questi consensi: {items}.",
        "none": "Per questo numero non risulta alcun consenso attivo.",
        "item": "per revocare {title} prema {key}",
        "menu": "Prema 9 per non essere più contattato per fini commerciali su nessun "
        "canale, o 0 per chiudere.",
        "withdrawn": "Revocato: {title}.",
        "objected": "Fatto: non la contatteremo più per fini commerciali, su nessun canale, "
        "e ogni consenso è revocato. Arrivederci.",
        "bye": "Arrivederci.",
        "invalid": "Scelta non valida.",
    },
    "en": {
        "language": "en-GB",
        "hello": "Hello, this is {controller}.",
        "unknown": "We find no consent for this number: nothing has been recorded. For any "
        "request, write to {contact}. Goodbye.",
        "holds": "For this number we hold these consents: {items}.",
        "none": "We hold no consent for this number.",
        "item": "to withdraw {title} press {key}",
        "menu": "Press 9 to stop all marketing on every channel, or 0 to end the call.",
        "withdrawn": "Withdrawn: {title}.",
        "objected": "Done: we will not contact you for marketing again, on any channel, and "
        "every consent is withdrawn. Goodbye.",
        "bye": "Goodbye.",
        "invalid": "Not a valid choice.",
    },
}


def _refusal(portal: Portal, params: dict[str, str]) -> str | None:
    why = twilio_call_refusal(portal, params)
    if why is not None:
        return why
    if params["Direction"].strip().lower() != "inbound":
        return "direction"
    return None


def _callers(session: Session, portal: Portal, number: str) -> list[Contact]:
    """Every contact (not erased) with the calling number."""
    digest = address_hash(portal.address_key, AddressKind.PHONE, number)
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.phone_hash == digest, Contact.erased_at.is_(None))
            .order_by(Contact.id)
        )
    )


def _say(node: VoiceResponse | Gather, text: str, lang: str, portal: Portal) -> None:
    voice = call_voice(portal.settings).of_language(lang)
    if voice:
        node.say(text, language=_WORDS[lang]["language"], voice=voice)
    else:
        node.say(text, language=_WORDS[lang]["language"])


def _menu(portal: Portal, lang: str, held: list[Purpose], said: str) -> Response:
    words = _WORDS[lang]
    response = VoiceResponse()
    listed = held[:MAX_LISTED]
    items = "; ".join(
        words["item"].format(title=localized(p.titles, lang, p.code), key=i + 1)
        for i, p in enumerate(listed)
    )
    text = " ".join(
        part
        for part in (
            said,
            words["holds"].format(items=items) if listed else words["none"],
            words["menu"],
        )
        if part
    )
    action = portal.public_url(INBOUND_CHOICE_PATH)
    gather = response.gather(
        input="dtmf", num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_SECONDS
    )
    _say(gather, text, lang, portal)
    _say(response, words["bye"], lang, portal)
    response.hangup()
    return Response(str(response.to_xml()), media_type=TWIML)


def _ending(portal: Portal, lang: str, text: str) -> Response:
    response = VoiceResponse()
    _say(response, text, lang, portal)
    response.hangup()
    return Response(str(response.to_xml()), media_type=TWIML)


async def inbound_call(request: Request) -> Response:
    params, refused = await verified_form(request, INBOUND_PATH)
    if refused is not None:
        return refused
    return await run_sync(_inbound, portal_of(request), request, params)


def _inbound(portal: Portal, request: Request, params: dict[str, str]) -> Response:
    why = _refusal(portal, params)
    if why is not None:
        logger.warning("inbound call refused: %s", why)
        return _ending(portal, "it", _WORDS["it"]["bye"])
    with unit_of_work(portal.engine) as session:
        callers = _callers(session, portal, params["From"].strip())
        held = given_purposes(session, [c.id for c in callers])
    lang = resolve_language(callers[0].locale if callers else "it")
    words = _WORDS[lang]
    settings = portal.settings
    if not callers:
        return _ending(portal, lang, words["unknown"].format(contact=settings.controller_contact))
    hello = words["hello"].format(controller=settings.controller_name)
    return _menu(portal, lang, held, hello)


async def inbound_choice(request: Request) -> Response:
    params, refused = await verified_form(request, INBOUND_CHOICE_PATH)
    if refused is not None:
        return refused
    return await run_sync(_choice, portal_of(request), request, params)


def _choice(portal: Portal, request: Request, params: dict[str, str]) -> Response:
    why = _refusal(portal, params)
    if why is not None:
        logger.warning("inbound call choice refused: %s", why)
        return _ending(portal, "it", _WORDS["it"]["bye"])
    digit = params.get("Digits", "").strip()
    call_sid = params["CallSid"].strip()
    caller = params["From"].strip()
    evidence = {
        "call_sid": call_sid,
        "digits": digit,
        "inbound": "true",
        "from_hash": address_hash(portal.address_key, AddressKind.PHONE, caller),
    }

    def act(session: Session) -> tuple[str, list[Purpose], str]:
        callers = _callers(session, portal, caller)
        lang = resolve_language(callers[0].locale if callers else "it")
        ids = [c.id for c in callers]
        held = given_purposes(session, ids)[:MAX_LISTED]
        words = _WORDS[lang]
        if not callers or digit == DIGIT_END:
            return lang, [], "end"
        if digit == DIGIT_OBJECT:
            for contact in callers:
                record_objection(
                    session,
                    contact_id=contact.id,
                    request_id=None,
                    method=CollectionMethod.IVR,
                    channel=None,
                    evidence=evidence,
                    ctx=portal.ledger_context(),
                )
            return lang, [], "objected"
        if digit.isdigit() and 1 <= int(digit) <= len(held):
            purpose = held[int(digit) - 1]
            withdraw_purpose(
                session,
                ids,
                purpose,
                method=CollectionMethod.IVR,
                channel=None,
                evidence={**evidence, "purpose": purpose.code},
                nonce=f"inbound:{call_sid}",
                ctx=portal.ledger_context(),
            )
            said = words["withdrawn"].format(title=localized(purpose.titles, lang, purpose.code))
            return lang, given_purposes(session, ids), said
        return lang, held, words["invalid"]

    lang, held, said = retry_on_conflict(portal.engine, act)
    words = _WORDS[lang]
    if said == "end":
        return _ending(portal, lang, words["bye"])
    if said == "objected":
        return _ending(portal, lang, words["objected"])
    return _menu(portal, lang, held, said)
