"""An emulated SendGrid v3 ``POST /v3/mail/send``, validating like the real API.

* ``Authorization: Bearer <api_key>`` or 401;
* the payload shape: 1..1,000 personalizations and at most 1,000 recipients,
  each ``to`` a valid address, ``from.email``, a subject (global or in every
  personalization), content blocks (``text/plain`` first), string-valued
  ``custom_args`` and ``substitutions``; errors come back as 400 with
  SendGrid's ``{"errors": [{"message", "field", "help"}]}``;
* 202 with an ``X-Message-Id`` header when accepted.

Every request is recorded (the ``Authorization`` header masked).  Faults are
scripted with :meth:`SendGridEmulator.fail_next` / :meth:`delay_next`.
:meth:`SendGridEmulator.deliveries` applies each personalization's
substitutions the way SendGrid does, giving the emails people would receive.
Signed Event Webhook batches about them are built and posted by the helpers of
:class:`reconsent.dev.emulators.sendgrid_events.SendGridEventsMixin`
(:meth:`~SendGridEmulator.event`, :meth:`~SendGridEmulator.fire_events`), signed
with the emulator's own P-256 key (:attr:`~SendGridEmulator.event_public_key`).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconsent.dev.emulators.faults import Fault, FaultScript
from reconsent.dev.emulators.sendgrid_events import EventWebhookSigner, SendGridEventsMixin

__all__ = ["Delivery", "RecordedMailRequest", "SendGridEmulator"]

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_FAULT_TEXT = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    413: "The JSON payload you have included in your request is too large.",
    429: "Too many requests",
}


@dataclass(frozen=True)
class RecordedMailRequest:
    status: int
    headers: dict[str, str]
    body: Any  # the parsed JSON, or None when it was not JSON
    message_id: str | None = None
    #: When it arrived (``time.monotonic``): pacing is measured where the mail lands.
    at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return self.status == 202


@dataclass(frozen=True)
class Delivery:
    """One email as its recipient would get it (a personalization, substituted)."""

    message_id: str
    to: list[dict[str, str]]
    subject: str
    contents: dict[str, str]  # MIME type -> body
    custom_args: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def _error(message: str, field_name: str | None) -> dict[str, Any]:
    return {"message": message, "field": field_name, "help": None}


def validate_mail(body: Any) -> list[dict[str, Any]]:
    """SendGrid-style errors for a ``mail/send`` payload (empty when valid)."""
    if not isinstance(body, dict):
        return [_error("Bad Request", None)]
    errors: list[dict[str, Any]] = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            _error(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
            )
        )
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(
            _error(
                f"The personalizations field cannot have more than {MAX_PERSONALIZATIONS} "
                "personalizations.",
                "personalizations",
            )
        )
    recipients = 0
    every_has_subject = bool(personalizations)
    for i, item in enumerate(personalizations):
        if not isinstance(item, dict):
            errors.append(_error("Invalid type. Expected: object.", f"personalizations.{i}"))
            every_has_subject = False
            continue
        to = item.get("to")
        if not isinstance(to, list) or not to:
            errors.append(
                _error(
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    f"personalizations.{i}.to",
                )
            )
            to = []
        for j, recipient in enumerate(to):
            recipients += 1
            address = recipient.get("email") if isinstance(recipient, dict) else None
            if not isinstance(address, str) or not _EMAIL.match(address):
                errors.append(
                    _error(
                        "Does not contain a valid address.", f"personalizations.{i}.to.{j}.email"
                    )
                )
        for key in ("custom_args", "substitutions", "headers"):
            values = item.get(key, {})
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                errors.append(
                    _error(f"The {key} values must be strings.", f"personalizations.{i}.{key}")
                )
        every_has_subject = every_has_subject and bool(item.get("subject"))
    if recipients > MAX_RECIPIENTS:
        errors.append(
            _error(
                f"The total number of recipients cannot exceed {MAX_RECIPIENTS}.",
                "personalizations",
            )
        )
    sender = body.get("from")
    if not isinstance(sender, dict) or not _EMAIL.match(str(sender.get("email", ""))):
        errors.append(_error("The from email does not contain a valid address.", "from.email"))
    if not body.get("subject") and not every_has_subject and not body.get("template_id"):
        errors.append(
            _error(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
            )
        )
    errors += _validate_content(body)
    return errors


def _validate_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    content = body.get("content")
    if body.get("template_id") and not content:
        return []
    if not isinstance(content, list) or not content:
        return [
            _error(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
            )
        ]
    errors: list[dict[str, Any]] = []
    for k, block in enumerate(content):
        if not isinstance(block, dict) or not block.get("type") or not block.get("value"):
            errors.append(
                _error("Each content block needs a type and a non-empty value.", f"content.{k}")
            )
    types = [block.get("type") for block in content if isinstance(block, dict)]
    if "text/plain" in types and types[0] != "text/plain":
        errors.append(_error("If present, text/plain content must be first.", "content"))
    return errors


def substitute(text: str, substitutions: dict[str, str]) -> str:
    """Replace every tag in one pass, longest tags first (values are never re-scanned)."""
    if not substitutions:
        return text
    tags = sorted(substitutions, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(tag) for tag in tags))
    return pattern.sub(lambda match: substitutions[match.group(0)], text)


class SendGridEmulator(SendGridEventsMixin):
    """Thread-safe state of the emulated SendGrid; ``app()`` serves it."""

    def __init__(self, api_key: str = "SG.emulator-key") -> None:
        self.api_key = api_key
        self.event_signer = EventWebhookSigner()
        self.faults = FaultScript()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[RecordedMailRequest] = []
        self._arrived = 0

    # --- scripting ------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        retry_after: float | None = None,
        times: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (after the auth check)."""
        self.faults.add(Fault(status=status, retry_after=retry_after, message=message), times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next ``times`` requests normally, but only after ``seconds``."""
        self.faults.add(Fault(delay=seconds), times)

    def reset(self) -> None:
        self.faults.clear()
        with self._lock:
            self._requests.clear()
            self._arrived = 0

    # --- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedMailRequest]:
        with self._lock:
            return list(self._requests)

    def wait_until(self, *, arrived: int = 0, recorded: int = 0, timeout: float = 30.0) -> bool:
        """Block until at least ``arrived`` requests came in (a delayed one counts as soon as
        it arrives) and ``recorded`` were answered; False on timeout. For tests that must
        act while a request is in flight, without sleeping."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._arrived >= arrived and len(self._requests) >= recorded, timeout
            )

    def accepted(self) -> list[RecordedMailRequest]:
        return [r for r in self.requests if r.accepted]

    def deliveries(self) -> list[Delivery]:
        out: list[Delivery] = []
        for request in self.accepted():
            body = request.body
            contents = {c["type"]: c["value"] for c in body.get("content", [])}
            for item in body["personalizations"]:
                subs = item.get("substitutions", {})
                out.append(
                    Delivery(
                        message_id=request.message_id or "",
                        to=item["to"],
                        subject=substitute(item.get("subject") or body.get("subject", ""), subs),
                        contents={k: substitute(v, subs) for k, v in contents.items()},
                        custom_args={**body.get("custom_args", {}), **item.get("custom_args", {})},
                        headers={**body.get("headers", {}), **item.get("headers", {})},
                    )
                )
        return out

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v3/mail/send", self._mail_send, methods=["POST"])])

    def _record(self, request: RecordedMailRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    async def _mail_send(self, request: Request) -> Response:
        raw = await request.body()
        with self._changed:
            self._arrived += 1
            self._changed.notify_all()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "authorization" in headers:
            headers["authorization"] = "********"
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = None
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            self._record(RecordedMailRequest(401, headers, body))
            return self._fault_response(Fault(status=401))
        fault = self.faults.pop()
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            self._record(RecordedMailRequest(fault.status, headers, body))
            return self._fault_response(fault)
        errors = validate_mail(body)
        if errors:
            self._record(RecordedMailRequest(400, headers, body))
            return JSONResponse({"errors": errors}, status_code=400)
        message_id = secrets.token_urlsafe(16)
        self._record(RecordedMailRequest(202, headers, body, message_id))
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    @staticmethod
    def _fault_response(fault: Fault) -> Response:
        status = fault.status or 500
        text = fault.message or _FAULT_TEXT.get(status, "Internal Server Error")
        response_headers: dict[str, str] = {}
        if fault.retry_after is not None:
            response_headers["Retry-After"] = f"{fault.retry_after:g}"
        if status == 429:
            response_headers.update({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"})
        return JSONResponse(
            {"errors": [_error(text, None)]}, status_code=status, headers=response_headers
        )
