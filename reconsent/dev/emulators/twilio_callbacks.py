"""What the emulated Twilio sends *to us*: status callbacks, inbound SMS, a call's key press.

Every request is signed the way Twilio signs (``X-Twilio-Signature`` =
base64 HMAC-SHA1 of the auth token over the URL and the sorted POST
parameters, computed by the SDK's own ``RequestValidator``) and posted with
the parameters Twilio sends.  ``client`` is any ``httpx.Client`` (a Starlette
``TestClient`` reaches an in-process portal); default a fresh one.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from twilio.request_validator import RequestValidator

__all__ = ["CallAnswer", "TwilioCallbacksMixin"]

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "X-Twilio-Signature"


@dataclass(frozen=True)
class CallAnswer:
    """What happened on an emulated call: the TwiML heard, then the answer to the key."""

    voice: httpx.Response
    gather: httpx.Response | None  # the answer to the last key pressed
    gathers: tuple[httpx.Response, ...] = ()  # every answer, in order


class TwilioCallbacksMixin:
    """Callbacks of :class:`reconsent.dev.emulators.twilio.TwilioEmulator` (its state is used)."""

    account_sid: str
    auth_token: str
    default_inbound_to: str = "+390212345678"

    if TYPE_CHECKING:  # provided by the emulator this is mixed into

        @property
        def requests(self) -> list[Any]: ...

    # --- signing --------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        signature: str = RequestValidator(self.auth_token).compute_signature(url, dict(params))
        return signature

    def post_signed(
        self, url: str, params: Mapping[str, str], *, client: httpx.Client | None = None
    ) -> httpx.Response:
        headers = {SIGNATURE_HEADER: self.sign(url, params)}
        if client is not None:
            return client.post(url, data=dict(params), headers=headers)
        with httpx.Client(timeout=10) as own:
            return own.post(url, data=dict(params), headers=headers)

    # --- outbound resources ---------------------------------------------------------------

    def resource(self, sid: str) -> Any:
        """The accepted ``Messages`` / ``Calls`` request that created ``sid``."""
        for request in self.requests:
            if request.sid == sid:
                return request
        raise LookupError(f"no message or call {sid} was created")

    def status_callback(
        self, sid: str, status: str, *, error_code: int | str | None = None
    ) -> tuple[str, dict[str, str]]:
        """The URL and parameters of the status callback Twilio would post for ``sid``."""
        created = self.resource(sid)
        url = str(created.params.get("StatusCallback") or "")
        if not url:
            raise LookupError(f"{sid} was created without a StatusCallback")
        common = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": str(created.params.get("From", "")),
            "To": str(created.params.get("To", "")),
        }
        if created.resource == "Messages":
            params = {
                **common,
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
            }
        else:
            params = {
                **common,
                "CallSid": sid,
                "CallStatus": status,
                "Direction": "outbound-api",
                "CallbackSource": "call-progress-events",
            }
            if status == "completed":
                params["CallDuration"] = "42"
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return url, params

    def fire_status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | str | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        url, params = self.status_callback(sid, status, error_code=error_code)
        return self.post_signed(url, params, client=client)

    # --- inbound --------------------------------------------------------------------------

    def fire_inbound_sms(
        self,
        url: str,
        *,
        from_: str,
        body: str,
        to: str | None = None,
        message_sid: str | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        """A person's reply, posted to the number's messaging webhook ``url``."""
        sid = message_sid or "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to or self.default_inbound_to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": API_VERSION,
        }
        return self.post_signed(url, params, client=client)

    def answer_call(
        self,
        sid: str,
        digits: str | Sequence[str] | None = None,
        *,
        answered_by: str = "human",
        client: httpx.Client | None = None,
    ) -> CallAnswer:
        """Play a created call: fetch its TwiML from ``Url``, then press ``digits`` on its
        ``<Gather>`` (posted to the gather's ``action``), as Twilio does. A sequence of
        keys answers one question after another, each on the ``<Gather>`` the last
        answer returned; the presses stop early when a response gathers nothing more."""
        created = self.resource(sid)
        base = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": str(created.params.get("From", "")),
            "To": str(created.params.get("To", "")),
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "AnsweredBy": answered_by,
            "ApiVersion": API_VERSION,
        }
        voice = self.post_signed(str(created.params["Url"]), base, client=client)
        return self._press(voice, base, digits, client)

    def call_in(
        self,
        url: str,
        *,
        from_: str,
        digits: str | Sequence[str] | None = None,
        to: str | None = None,
        client: httpx.Client | None = None,
    ) -> CallAnswer:
        """A person calls our number: Twilio posts to the number's Voice ``url``, then the
        keys pressed go to each ``<Gather>`` action, as for an outbound call."""
        base = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to or self.default_inbound_to,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": API_VERSION,
        }
        voice = self.post_signed(url, base, client=client)
        return self._press(voice, {**base, "CallStatus": "in-progress"}, digits, client)

    def _press(
        self,
        voice: httpx.Response,
        base: Mapping[str, str],
        digits: str | Sequence[str] | None,
        client: httpx.Client | None,
    ) -> CallAnswer:
        keys = [digits] if isinstance(digits, str) else list(digits or [])
        answers: list[httpx.Response] = []
        last = voice
        for key in keys:
            action = _gather_action(last.text) if last.status_code == 200 else None
            if action is None:
                break
            last = self.post_signed(action, {**base, "Digits": key}, client=client)
            answers.append(last)
        return CallAnswer(voice, answers[-1] if answers else None, tuple(answers))


def _gather_action(twiml: str) -> str | None:
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - TwiML from our own portal under test
    except ET.ParseError:
        return None
    gather = root.find("Gather")
    return None if gather is None else gather.get("action")
