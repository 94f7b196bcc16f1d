"""What the Twilio SMS and voice adapters share: the client, the batch loop, error mapping.

The official SDK is pointed at ``base_url`` (``settings.twilio_api_base_url``)
by an HTTP client that rewrites ``https://api.twilio.com`` (and its edge /
region variants) to it, so the emulator and a real proxy work the same way.

One provider call per message.  A 429 or a transport failure (timeout,
refused connection) stops the batch: the messages not yet attempted come back
``TRANSIENT`` with ``error_code="not_attempted"`` and the same ``retry_after``,
so a struggling provider is not hammered and a slow one does not hold the
batch for one timeout per message.  Error details carry the HTTP status only:
Twilio's own messages quote the phone number.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reconsent.kernel.ports import OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.rules.provider_answers import classify_twilio, parse_retry_after
from reconsent.kernel.vocab import Channel

__all__ = ["RebasingHttpClient", "TwilioAdapterBase", "make_client"]

_log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"


class RebasingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped SDK base
    """``TwilioHttpClient`` sending ``api.*.twilio.com`` requests to ``base_url`` instead.

    Also remembers, per thread, the headers of the last response (the SDK's
    exceptions drop them, and ``Retry-After`` lives there).
    """

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url.rstrip("/"))
        if not parts.scheme or not parts.netloc:
            raise ValueError("the Twilio API base URL must be absolute (scheme and host)")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self._local = threading.local()

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not (host.startswith("api.") and host.endswith("twilio.com")):
            return url
        path = self._prefix + parts.path
        return urlunsplit((self._scheme, self._netloc, path, parts.query, parts.fragment))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = {}
        response: Response = super().request(method, self.rebase(url), *args, **kwargs)
        self._local.headers = response.headers or {}
        return response

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's last response (case-insensitive when present)."""
        headers: Mapping[str, str] = getattr(self._local, "headers", {})
        return headers


def make_client(
    account_sid: str, auth_token: str, base_url: str = TWILIO_API, timeout: float | None = 10.0
) -> tuple[Client, RebasingHttpClient]:
    http = RebasingHttpClient(base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http), http


class TwilioAdapterBase(ABC):
    """The batch loop of one Twilio resource creation per message."""

    provider = "twilio"
    idempotent = False
    #: Every message and call asks for status callbacks to a URL with its attempt id.
    reports_back = True
    channel: Channel

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        base_url: str = TWILIO_API,
        *,
        timeout: float = 10.0,
        max_batch: int = 500,
    ) -> None:
        if not (account_sid and auth_token and from_):
            raise ValueError("Twilio needs an account sid, an auth token and a sender")
        self.client, self._http = make_client(account_sid, auth_token, base_url, timeout)
        self.from_ = from_
        self.max_batch = max_batch

    @abstractmethod
    def _prepare(self, msg: OutboundMessage) -> dict[str, Any]:
        """Arguments of the resource creation (raises for a bad batch before any call)."""

    @abstractmethod
    def _create(self, msg: OutboundMessage, args: dict[str, Any]) -> str:
        """Create the provider resource; return its sid."""

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        for msg in messages:
            if msg.channel is not self.channel:
                raise ValueError(f"attempt {msg.attempt_id} is not a {self.channel} message")
        prepared = [self._prepare(msg) for msg in messages]
        results: list[SendResult] = []
        stop: SendResult | None = None
        for msg, args in zip(messages, prepared, strict=True):
            if stop is not None:
                results.append(
                    SendResult(
                        msg.attempt_id,
                        SendOutcome.TRANSIENT,
                        self.provider,
                        error_code="not_attempted",
                        error_detail=f"batch stopped after {stop.error_code}",
                        retry_after=stop.retry_after,
                    )
                )
                continue
            result = self._send_one(msg, args)
            results.append(result)
            if result.outcome is SendOutcome.TRANSIENT and result.error_code in _STOPPERS:
                stop = result
        return results

    def _send_one(self, msg: OutboundMessage, args: dict[str, Any]) -> SendResult:
        try:
            sid = self._create(msg, args)
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._failure(msg, exc.status, exc.code)
        except requests.Timeout:
            return self._transport(msg, "timeout")
        except requests.RequestException:
            return self._transport(msg, "connection")
        except TwilioException:  # an answer the SDK could not read
            return self._transport(msg, "bad_response")
        return SendResult(msg.attempt_id, SendOutcome.SENT, self.provider, provider_message_id=sid)

    def _failure(self, msg: OutboundMessage, status: int | None, code: int | None) -> SendResult:
        status = int(status) if status is not None else None
        code = int(code) if code is not None else None
        outcome = classify_twilio(status, code)  # raises ChannelConfigError for account faults
        retry_after = None
        if outcome is SendOutcome.TRANSIENT:
            retry_after = parse_retry_after(self._http.last_headers().get("Retry-After"))
        error_code = "429" if status == 429 else str(code or status)
        _log.warning(
            "twilio refused attempt %s: HTTP %s code %s", msg.attempt_id, status, error_code
        )
        return SendResult(
            msg.attempt_id,
            outcome,
            self.provider,
            error_code=error_code,
            error_detail=f"HTTP {status}",
            retry_after=retry_after,
        )

    def _transport(self, msg: OutboundMessage, kind: str) -> SendResult:
        _log.warning("twilio unreachable for attempt %s: %s", msg.attempt_id, kind)
        return SendResult(msg.attempt_id, SendOutcome.TRANSIENT, self.provider, error_code=kind)


#: Transient failures that stop the rest of the batch.
_STOPPERS = frozenset({"429", "timeout", "connection"})
