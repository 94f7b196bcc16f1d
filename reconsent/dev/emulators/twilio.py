"""An emulated Twilio REST API: ``Messages.json`` and ``Calls.json`` under an account.

* HTTP Basic auth (account sid + auth token) or 401 (code 20003); a path
  account other than the authenticated one is 404 (code 20404);
* form-encoded parameters as the SDK sends them; 201 with a JSON resource
  shaped like Twilio's (``SM``/``CA`` sids of 34 characters, status ``queued``);
* validation like the real API: a missing ``To`` / ``From`` / ``Body`` / ``Url``
  (21604 / 21603 / 21602 / 21205), an invalid ``To`` (21211, checked with
  ``phonenumbers``), a call ``From`` that is not a phone number (21212);
* faults: :meth:`TwilioEmulator.fail_next` (e.g. 429 with ``Retry-After``, 500),
  :meth:`fail_number` (a permanent or carrier code for one number),
  :meth:`delay_next`.

Every request is recorded with its form parameters (multi-valued ones as lists).
What Twilio posts back to us (signed status callbacks, inbound SMS, a call's
TwiML fetch and key press) comes from the helpers of
:class:`reconsent.dev.emulators.twilio_callbacks.TwilioCallbacksMixin`.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconsent.dev.emulators.faults import Fault, FaultScript
from reconsent.dev.emulators.twilio_callbacks import TwilioCallbacksMixin

__all__ = ["RecordedTwilioRequest", "TwilioEmulator"]

API_VERSION = "2010-04-01"
_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21205: "Url is not a valid URL.",
    21211: "The 'To' number is not a valid phone number.",
    21212: "The 'From' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS.",
    21614: "'To' number is not a valid mobile number",
    21635: "'To' number cannot be a landline.",
    30003: "Unreachable destination handset.",
    30005: "Unknown destination handset.",
    30006: "Landline or unreachable carrier.",
}


@dataclass(frozen=True)
class RecordedTwilioRequest:
    resource: str  # "Messages" or "Calls"
    status: int
    params: dict[str, Any]  # str, or list[str] for repeated parameters
    sid: str | None = None
    #: ``time.monotonic()`` when the request arrived: what "reached the provider" means.
    arrived_at: float = field(default_factory=time.monotonic)


def _rfc2822(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def is_valid_number(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def _approx_segments(body: str) -> int:
    """Twilio's ``num_segments``, approximated (ASCII as GSM-7, anything else as UCS-2)."""
    single, multi = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


class TwilioEmulator(TwilioCallbacksMixin):
    """Thread-safe state of the emulated Twilio account; ``app()`` serves it."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "emulator-token",  # noqa: S107 - the emulator's own test credential
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.faults = FaultScript()
        self._lock = threading.Lock()
        self._requests: list[RecordedTwilioRequest] = []
        self._number_faults: dict[str, Fault] = {}

    # --- scripting ------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        code: int | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` authenticated requests with ``status`` / ``code``."""
        default_code = {429: 20429}.get(status, 20500 if status >= 500 else None)
        fault = Fault(status=status, code=code or default_code, retry_after=retry_after)
        self.faults.add(fault, times)

    def fail_number(self, number: str, *, code: int, status: int = 400) -> None:
        """Every request to ``number`` fails with ``code`` (e.g. 21610, 30003)."""
        with self._lock:
            self._number_faults[number] = Fault(status=status, code=code)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        self.faults.add(Fault(delay=seconds), times)

    def reset(self) -> None:
        self.faults.clear()
        with self._lock:
            self._requests.clear()
            self._number_faults.clear()

    # --- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedTwilioRequest]:
        with self._lock:
            return list(self._requests)

    def created(self, resource: str) -> list[RecordedTwilioRequest]:
        """Accepted requests for ``"Messages"`` or ``"Calls"``."""
        return [r for r in self.requests if r.resource == resource and r.status == 201]

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        base = f"/{API_VERSION}/Accounts/{{sid}}"
        return Starlette(
            routes=[
                Route(f"{base}/Messages.json", self._messages, methods=["POST"]),
                Route(f"{base}/Calls.json", self._calls, methods=["POST"]),
            ]
        )

    async def _messages(self, request: Request) -> Response:
        return await self._create(request, "Messages")

    async def _calls(self, request: Request) -> Response:
        return await self._create(request, "Calls")

    async def _create(self, request: Request, resource: str) -> Response:
        form = await request.form()
        params: dict[str, Any] = {}
        for key in form:
            values = [str(v) for v in form.getlist(key)]
            params[key] = values[0] if len(values) == 1 else values
        await form.close()
        error = self._auth_error(request)
        fault = None if error else self.faults.pop()
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if error is None and fault is not None and fault.status is not None:
            error = fault
        if error is None:
            error = self._validate(resource, params)
        if error is not None:
            self._record(RecordedTwilioRequest(resource, error.status or 500, params))
            return self._error_response(error)
        prefix = "SM" if resource == "Messages" else "CA"
        sid = prefix + uuid.uuid4().hex
        self._record(RecordedTwilioRequest(resource, 201, params, sid))
        return JSONResponse(self._resource(resource, sid, params), status_code=201)

    def _auth_error(self, request: Request) -> Fault | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token):
            return Fault(status=401, code=20003)
        if request.path_params["sid"] != self.account_sid:
            return Fault(status=404, code=20404)
        return None

    def _validate(self, resource: str, params: dict[str, Any]) -> Fault | None:
        to, sender = params.get("To"), params.get("From")
        if not to:
            return Fault(status=400, code=21604)
        if not sender:
            return Fault(status=400, code=21603)
        if resource == "Messages" and not params.get("Body"):
            return Fault(status=400, code=21602)
        if resource == "Calls":
            url = str(params.get("Url", ""))
            if not url.startswith(("http://", "https://")):
                return Fault(status=400, code=21205)
            if not is_valid_number(str(sender)):
                return Fault(status=400, code=21212)
        if not is_valid_number(str(to)):
            return Fault(status=400, code=21211)
        with self._lock:
            return self._number_faults.get(str(to))

    def _record(self, request: RecordedTwilioRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _error_response(self, fault: Fault) -> Response:
        status = fault.status or 500
        code = fault.code or status
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        body = {
            "code": code,
            "message": fault.message or _MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return JSONResponse(body, status_code=status, headers=headers)

    def _resource(self, resource: str, sid: str, params: dict[str, Any]) -> dict[str, Any]:
        now = _rfc2822(datetime.now(UTC))
        common: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": params["From"],
            "to": params["To"],
            "status": "queued",
            "price": None,
            "price_unit": "USD",
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/{resource}/{sid}.json",
        }
        if resource == "Messages":
            body = str(params["Body"])
            return {
                **common,
                "body": body,
                "num_segments": str(_approx_segments(body)),
                "num_media": "0",
                "date_sent": None,
                "error_code": None,
                "error_message": None,
                "messaging_service_sid": None,
                "subresource_uris": {"media": common["uri"].replace(".json", "/Media.json")},
            }
        return {
            **common,
            "answered_by": None,
            "caller_name": None,
            "duration": None,
            "start_time": None,
            "end_time": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "subresource_uris": {
                "recordings": common["uri"].replace(".json", "/Recordings.json"),
            },
        }
