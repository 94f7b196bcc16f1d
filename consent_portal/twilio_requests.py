"""What every Twilio request to us must show before it is read: its signature, and
for a call, that it is about our call (shared by the outbound-call, inbound-call,
status and SMS webhooks)."""

from __future__ import annotations

import logging
import re

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from consent_portal.state import Portal, portal_of
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind

__all__ = [
    "CALL_SID",
    "MAX_FIELDS",
    "REQUIRED",
    "SIGNATURE_HEADER",
    "call_refusal",
    "is_machine",
    "signature_ok",
    "signed_url",
    "twilio_call_refusal",
    "verified_form",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_FIELDS = 200

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


async def verified_form(request: Request, path: str) -> tuple[dict[str, str], Response | None]:
    async with request.form(max_files=0, max_fields=MAX_FIELDS) as form:
        if not signature_ok(portal_of(request), path, request, form):
            logger.warning("twilio webhook refused: bad or missing signature on %s", path)
            return {}, PlainTextResponse("forbidden", status_code=403)
        params = {key: value for key, value in form.items() if isinstance(value, str)}
    return params, None


#: Parameters Twilio sends with every voice request: a set without one of them was not
#: made by Twilio (e.g. a signed body re-cut at another parameter boundary).
REQUIRED = frozenset(
    {"AccountSid", "ApiVersion", "CallSid", "CallStatus", "Direction", "From", "To"}
)
CALL_SID = re.compile(r"CA[0-9a-f]{32}")


def twilio_call_refusal(portal: Portal, params: dict[str, str]) -> str | None:
    """Why a signed voice request was not made by Twilio for our account, or None: every
    field Twilio always sends, our AccountSid, a well-formed CallSid."""
    if not {k for k, v in params.items() if v.strip()} >= REQUIRED:
        return "incomplete"
    if params["AccountSid"].strip() != (portal.settings.twilio_account_sid or ""):
        return "account"
    if not CALL_SID.fullmatch(params["CallSid"].strip()):
        return "call_sid"
    return None


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
    why = twilio_call_refusal(portal, params)
    if why is not None:
        return why
    call_sid = params["CallSid"].strip()
    if placed_sid and CALL_SID.fullmatch(placed_sid) and call_sid != placed_sid:
        return "other_call"  # (an attempt the file outbox "placed" has no CallSid)
    callee = params["To"].strip()
    called = address_hash(portal.address_key, AddressKind.PHONE, callee) if callee else None
    if phone_hash is None or called != phone_hash:
        return "callee"
    return None
