"""Twilio webhooks: message status, call status and inbound SMS.

Like the voice webhooks (:mod:`consent_portal.voice_webhooks`), every request must
carry a valid ``X-Twilio-Signature`` over our public URL and its POST
parameters: otherwise 403 and nothing recorded.  Each callback is applied once
(its key in ``webhook_events``): the same callback twice changes nothing.

* ``POST /webhooks/twilio/sms-status``: ``MessageSid`` + ``MessageStatus``
  (+ ``ErrorCode``), applied by :func:`reconsent.feedback.delivery_reports.apply_delivery`;
* ``POST /webhooks/twilio/call-status``: ``CallSid`` + ``CallStatus``;
  both status URLs carry ``?a=<attempt id>`` (we set it when sending; the
  signature covers it), so a report finds its attempt even when a crash lost
  the sid the provider answered with;
* ``POST /webhooks/twilio/sms-inbound``: a reply (``From``, ``Body``), handled by
  :func:`reconsent.feedback.sms_inbound.handle_inbound_sms`; answered with TwiML.

Status callbacks answer 204 (also for a duplicate or an attempt we do not
know: Twilio does not retry them, and there is nothing to fix on its side);
a callback without its sid or status is 400.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from channels.sms_reply_twiml import empty_twiml, reply_twiml
from consent_portal.state import Portal, portal_of, retry_on_conflict, run_sync
from consent_portal.twilio_requests import MAX_FIELDS, signature_ok
from consent_portal.voice_webhooks import TWIML
from reconsent.feedback.delivery_reports import Applied, DeliveryReport, apply_delivery
from reconsent.feedback.sms_inbound import InboundSms, handle_inbound_sms
from reconsent.feedback.webhook_keys import event_key
from reconsent.kernel.links import LinkUse
from reconsent.kernel.rules.delivery_outcomes import twilio_call_verdict, twilio_message_verdict
from reconsent.kernel.vocab import Channel

__all__ = [
    "CALL_STATUS_PATH",
    "SMS_INBOUND_PATH",
    "SMS_STATUS_PATH",
    "call_status",
    "sms_inbound",
    "sms_status",
]

SMS_STATUS_PATH = "/webhooks/twilio/sms-status"
CALL_STATUS_PATH = "/webhooks/twilio/call-status"
SMS_INBOUND_PATH = "/webhooks/twilio/sms-inbound"

logger = logging.getLogger(__name__)


async def _verified(request: Request, path: str) -> dict[str, str] | None:
    """The POST parameters when the signature holds, else None."""
    async with request.form(max_files=0, max_fields=MAX_FIELDS) as form:
        if not signature_ok(portal_of(request), path, request, form):
            logger.warning("twilio webhook refused: bad or missing signature on %s", path)
            return None
        return {key: value for key, value in form.items() if isinstance(value, str)}


def _forbidden() -> Response:
    return PlainTextResponse("forbidden", status_code=403)


# --- status callbacks -----------------------------------------------------------------


async def sms_status(request: Request) -> Response:
    params = await _verified(request, SMS_STATUS_PATH)
    if params is None:
        return _forbidden()
    return await run_sync(_status, portal_of(request), params, Channel.SMS, _attempt_of(request))


async def call_status(request: Request) -> Response:
    params = await _verified(request, CALL_STATUS_PATH)
    if params is None:
        return _forbidden()
    return await run_sync(_status, portal_of(request), params, Channel.IVR, _attempt_of(request))


def _attempt_of(request: Request) -> int | None:
    """The attempt id we put in the status callback URL (absent on older messages)."""
    value = request.query_params.get("a", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def _status(
    portal: Portal, params: dict[str, str], channel: Channel, attempt_id: int | None
) -> Response:
    if channel is Channel.SMS:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    else:
        sid, status = params.get("CallSid", ""), params.get("CallStatus", "")
    sid, status = sid.strip(), status.strip().lower()
    if not sid or not status:
        return PlainTextResponse("missing sid or status", status_code=400)
    code = params.get("ErrorCode")
    verdict = (
        twilio_message_verdict(status, code)
        if channel is Channel.SMS
        else twilio_call_verdict(status, code)
    )
    kind = "twilio-sms" if channel is Channel.SMS else "twilio-call"
    report = DeliveryReport(
        provider="twilio",
        event_key=event_key(kind, sid, status),
        channel=channel,
        verdict=verdict,
        provider_message_id=sid,
        attempt_id=attempt_id,
    )
    applied = retry_on_conflict(
        portal.engine,
        lambda session: apply_delivery(
            session,
            report,
            ctx=portal.ledger_context(),
            max_tries=portal.settings.send_max_tries,
        ),
    )
    if applied is not Applied.APPLIED:
        logger.info("twilio %s callback %s: %s", channel.value, status, applied.value)
    return Response(status_code=204)


# --- inbound SMS ----------------------------------------------------------------------


async def sms_inbound(request: Request) -> Response:
    params = await _verified(request, SMS_INBOUND_PATH)
    if params is None:
        return _forbidden()
    return await run_sync(_inbound, portal_of(request), params)


def _inbound(portal: Portal, params: dict[str, str]) -> Response:
    sid = params.get("MessageSid", "").strip() or params.get("SmsSid", "").strip()
    if not sid:
        return PlainTextResponse("missing MessageSid", status_code=400)
    sms = InboundSms(sid, params.get("From", ""), params.get("Body", ""))

    def sign_optout(request_id: int, step_index: int) -> str:
        return portal.public_url(f"/o/{portal.signer.sign(LinkUse.OPTOUT, request_id, step_index)}")

    reply = retry_on_conflict(
        portal.engine,
        lambda session: handle_inbound_sms(
            session,
            sms,
            address_key=portal.address_key,
            region=portal.settings.jurisdiction,
            ctx=portal.ledger_context(),
            sign_optout=sign_optout,
        ),
    )
    logger.info(
        "inbound sms: %s for %d contact(s)%s",
        reply.keyword.value,
        reply.contacts,
        " (replay)" if reply.replay else "",
    )
    if reply.replay:
        return Response(empty_twiml(), media_type=TWIML)
    body = reply_twiml(
        reply.keyword,
        reply.locale,
        controller=portal.settings.controller_name,
        contact=portal.settings.controller_contact,
        optout_link=reply.optout_link,
    )
    return Response(body, media_type=TWIML)
