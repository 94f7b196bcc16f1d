"""Email through SendGrid's ``POST /v3/mail/send``, many recipients per request.

Messages are grouped by :class:`MessageContext`; each group is rendered once
(:func:`channels.message_render.render_email_template`) and sent in requests of at
most 1,000 personalizations, each carrying the recipient, its substitutions,
its one-click unsubscribe headers and ``custom_args`` holding only the
request and attempt ids (the Event Webhook echoes them back).  Click and open
tracking are off: the signed link must reach the portal as issued, and a
consent request should not profile its reader.

Retry policy (explicit and injectable):

* 429 and 5xx are retried in the adapter at most ``max_inline_retries`` times,
  waiting ``Retry-After`` (or ``backoff * 2**n`` without it) through the
  injected ``sleep``, but never longer than ``max_inline_wait`` seconds: a
  longer ``Retry-After`` comes straight back as ``TRANSIENT`` with
  ``retry_after`` for the orchestration to honour.
* Timeouts and connection errors are not retried in the adapter (the request
  may have been accepted): ``TRANSIENT``.
* After a ``TRANSIENT`` request the rest of the batch is not attempted
  (``TRANSIENT``, ``error_code="not_attempted"``, same ``retry_after``).
* A 400 naming specific personalizations fails those messages only and re-posts
  the others once: ``PERMANENT`` (the address is suppressed) when the error names
  the recipient's e-mail, ``UNSENDABLE`` (failed, never suppressed) for anything
  else; any other 4xx fails the request's messages as ``UNSENDABLE`` (the content
  was refused, not each address); 401/403 raise
  :class:`reconsent.kernel.errors.ChannelConfigError`.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import python_http_client.exceptions
from sendgrid import SendGridAPIClient

from channels.message_render import email_substitutions, render_email_template
from reconsent.kernel.ports import MessageContext, OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.rules.provider_answers import classify_sendgrid, parse_retry_after
from reconsent.kernel.vocab import Channel

__all__ = ["MAX_PERSONALIZATIONS", "SendGridEmail", "build_payload", "notice_payload"]

_log = logging.getLogger(__name__)
MAX_PERSONALIZATIONS = 1000
_FIELD_INDEX = re.compile(r"^personalizations\.(\d+)\b")
_EMAIL_FIELD = re.compile(r"^personalizations\.\d+\.(to|cc|bcc)(\.\d+)?\.email$")


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: no HTTP answer (timeout, connection refused)
    headers: Mapping[str, str]
    body: bytes
    transport: str | None = None  # "timeout" / "connection" when status is None


def build_payload(
    context: MessageContext,
    messages: Sequence[OutboundMessage],
    from_email: str,
    from_name: str | None = None,
) -> dict[str, Any]:
    """The ``mail/send`` body for up to 1,000 messages sharing ``context`` (order kept).

    A plain dict, the JSON the SDK's ``Mail`` helper would produce: its object
    graph (several objects per personalization, re-validated on every ``get()``)
    costs more than the rest of the send at 1,000 personalizations.
    """
    if not 0 < len(messages) <= MAX_PERSONALIZATIONS:
        raise ValueError(f"a mail carries 1 to {MAX_PERSONALIZATIONS} personalizations")
    return {
        **_envelope(context, from_email, from_name),
        "personalizations": [_personalization(msg) for msg in messages],
    }


@lru_cache(maxsize=64)
def _envelope(context: MessageContext, from_email: str, from_name: str | None) -> dict[str, Any]:
    """What every personalization of a context shares: sender, subject, bodies, tracking off."""
    template = render_email_template(context)
    return _mail(from_email, from_name, template.subject, template.text, template.html)


def _mail(
    from_email: str, from_name: str | None, subject: str, text: str, html: str
) -> dict[str, Any]:
    """Sender, subject, both bodies, click and open tracking off."""
    return {
        "from": _address(from_email, from_name),
        "subject": subject,
        "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
        },
    }


def _address(email: str, name: str | None) -> dict[str, str]:
    return {"name": name, "email": email} if name else {"email": email}


def notice_payload(
    msg: OutboundMessage, from_email: str, from_name: str | None = None
) -> dict[str, Any]:
    """The ``mail/send`` body of one service notice: its own subject and text, no
    List-Unsubscribe, ``custom_args`` naming the notice (never a wave attempt's id)."""
    assert msg.notice is not None
    notice = msg.notice
    return {
        **_mail(from_email, from_name, notice.subject, notice.text, notice.html),
        "personalizations": [
            {
                "to": [_address(msg.to, msg.to_name)],
                "custom_args": {"rights_notice_id": str(msg.attempt_id)},
            }
        ],
    }


def _personalization(msg: OutboundMessage) -> dict[str, Any]:
    if msg.code is not None:
        # A one-time code: a service message (no unsubscribe), and no attempt id for the
        # Event Webhook to match (the challenge's id is not an attempt's).
        return {
            "to": [_address(msg.to, msg.to_name)],
            "substitutions": email_substitutions(msg),
            "custom_args": {"code_id": str(msg.attempt_id)},
        }
    return {
        "to": [_address(msg.to, msg.to_name)],
        "headers": {
            "List-Unsubscribe": f"<{msg.optout_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "substitutions": email_substitutions(msg),
        # ids only: the Event Webhook echoes them back; nothing personal
        "custom_args": {"request_id": str(msg.request_id), "attempt_id": str(msg.attempt_id)},
    }


class SendGridEmail:
    """A :class:`reconsent.kernel.ports.ChannelAdapter` for email through SendGrid."""

    channel = Channel.EMAIL
    provider = "sendgrid"
    idempotent = False

    def __init__(
        self,
        api_key: str,
        host: str = "https://api.sendgrid.com",
        from_email: str = "privacy@example.com",
        from_name: str | None = None,
        *,
        timeout: float = 10.0,
        max_inline_retries: int = 2,
        max_inline_wait: float = 5.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_batch: int = MAX_PERSONALIZATIONS,  # one dispatcher chunk = one API call per locale
        per_request: int = MAX_PERSONALIZATIONS,
        reports_back: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("SendGrid needs an API key")
        if not 0 < per_request <= MAX_PERSONALIZATIONS:
            raise ValueError(f"per_request must be 1..{MAX_PERSONALIZATIONS}")
        self._client = SendGridAPIClient(api_key, host=host.rstrip("/"))
        #: The signed Event Webhook is set up (its key configured): ``processed`` events
        #: with our attempt id come back for every message SendGrid accepted.
        self.reports_back = reports_back
        self.from_email = from_email
        self.from_name = from_name
        self.timeout = timeout
        self.max_inline_retries = max_inline_retries
        self.max_inline_wait = max_inline_wait
        self.backoff = backoff
        self.sleep = sleep
        self.max_batch = max_batch
        self.per_request = per_request

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        groups: dict[MessageContext, list[OutboundMessage]] = {}
        notices: list[OutboundMessage] = []
        for msg in messages:
            if msg.channel is not Channel.EMAIL:
                raise ValueError(f"attempt {msg.attempt_id} is not an email message")
            if msg.notice is not None:
                notices.append(msg)
            else:
                groups.setdefault(msg.context, []).append(msg)
        results: list[SendResult] = []
        stop: SendResult | None = None
        for msg in notices:  # one request each: a notice shares no body with another
            if stop is not None:
                results.append(self._not_attempted(msg, stop))
                continue
            payload = notice_payload(msg, self.from_email, self.from_name)
            notice_results = self._send_payload(payload, [msg])
            results += notice_results
            stop = next((r for r in notice_results if r.outcome is SendOutcome.TRANSIENT), None)
        for context, group in groups.items():
            for start in range(0, len(group), self.per_request):
                chunk = group[start : start + self.per_request]
                if stop is not None:
                    results += [self._not_attempted(msg, stop) for msg in chunk]
                    continue
                chunk_results = self._send_chunk(context, chunk)
                results += chunk_results
                stop = next((r for r in chunk_results if r.outcome is SendOutcome.TRANSIENT), None)
        return results

    # --- one request ----------------------------------------------------------------------

    def _send_chunk(
        self, context: MessageContext, chunk: Sequence[OutboundMessage]
    ) -> list[SendResult]:
        return self._send_payload(
            build_payload(context, chunk, self.from_email, self.from_name), chunk
        )

    def _send_payload(
        self, payload: dict[str, Any], chunk: Sequence[OutboundMessage]
    ) -> list[SendResult]:
        personalizations: list[dict[str, Any]] = payload["personalizations"]
        pending = list(zip(chunk, personalizations, strict=True))
        results: list[SendResult] = []
        retries, split_done = 0, False
        while True:
            answer = self._post({**payload, "personalizations": [p for _, p in pending]})
            outcome = classify_sendgrid(answer.status)  # raises on 401/403
            if outcome is SendOutcome.SENT:
                message_id = answer.headers.get("X-Message-Id") or "sendgrid"
                return results + [
                    SendResult(
                        msg.attempt_id,
                        SendOutcome.SENT,
                        self.provider,
                        provider_message_id=f"{message_id}.{msg.attempt_id}",
                    )
                    for msg, _ in pending
                ]
            if outcome is SendOutcome.PERMANENT:
                bad = _bad_personalizations(answer, len(pending))
                if bad and not split_done and len(bad) < len(pending):
                    split_done = True
                    results += [
                        self._failed(msg, answer, *bad[i])
                        for i, (msg, _) in enumerate(pending)
                        if i in bad
                    ]
                    pending = [item for i, item in enumerate(pending) if i not in bad]
                    continue
                # Refused as a whole, or for every message: the request's content, never
                # proof that each address is bad (no suppression; the wave escalates).
                detail = (SendOutcome.UNSENDABLE, _error_text(answer))
                return results + [
                    self._failed(msg, answer, *bad.get(i, detail))
                    for i, (msg, _) in enumerate(pending)
                ]
            retry_after = _retry_after(answer)
            wait = retry_after if retry_after is not None else self.backoff * 2**retries
            inline = answer.status is not None and retries < self.max_inline_retries
            if inline and wait <= self.max_inline_wait:
                retries += 1
                _log.info("sendgrid HTTP %s: retry %s in %.1fs", answer.status, retries, wait)
                self.sleep(wait)
                continue
            code = answer.transport or str(answer.status)
            _log.warning("sendgrid request not accepted: %s (%s messages)", code, len(pending))
            return results + [
                SendResult(
                    msg.attempt_id,
                    SendOutcome.TRANSIENT,
                    self.provider,
                    error_code=code,
                    error_detail=None if answer.status is None else f"HTTP {answer.status}",
                    retry_after=retry_after,
                )
                for msg, _ in pending
            ]

    def _post(self, payload: dict[str, Any]) -> _Answer:
        try:
            response = self._client.client.mail.send.post(
                request_body=payload, timeout=self.timeout
            )
        except python_http_client.exceptions.HTTPError as err:
            return _Answer(int(err.status_code), err.headers or {}, err.body or b"")
        except TimeoutError:
            return _Answer(None, {}, b"", "timeout")
        except urllib.error.URLError as err:
            kind = "timeout" if isinstance(err.reason, TimeoutError) else "connection"
            return _Answer(None, {}, b"", kind)
        except (OSError, http.client.HTTPException):  # reset, refused, garbled answer
            return _Answer(None, {}, b"", "connection")
        return _Answer(int(response.status_code), response.headers or {}, response.body or b"")

    def _failed(
        self, msg: OutboundMessage, answer: _Answer, outcome: SendOutcome, detail: str
    ) -> SendResult:
        return SendResult(
            msg.attempt_id,
            outcome,
            self.provider,
            error_code=str(answer.status),
            error_detail=detail,
        )

    def _not_attempted(self, msg: OutboundMessage, stop: SendResult) -> SendResult:
        return SendResult(
            msg.attempt_id,
            SendOutcome.TRANSIENT,
            self.provider,
            error_code="not_attempted",
            error_detail=f"batch stopped after {stop.error_code}",
            retry_after=stop.retry_after,
        )


# --- reading SendGrid's answers -------------------------------------------------------------


def _errors(answer: _Answer) -> list[dict[str, Any]]:
    try:
        data = json.loads(answer.body or b"{}")
    except ValueError:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_text(answer: _Answer) -> str:
    """SendGrid's messages and fields (they name fields, not addresses), bounded."""
    parts = [f"{e.get('field') or '-'}: {e.get('message') or ''}" for e in _errors(answer)]
    return ("; ".join(parts) or f"HTTP {answer.status}")[:300]


def _bad_personalizations(answer: _Answer, count: int) -> dict[int, tuple[SendOutcome, str]]:
    """Index -> (outcome, error text), when *every* error names a personalization; else
    empty. An error on the recipient's e-mail blames the address (``PERMANENT``:
    suppressed); on anything else (the name, substitutions) the message
    (``UNSENDABLE``: failed, never suppressed)."""
    bad: dict[int, tuple[SendOutcome, str]] = {}
    for error in _errors(answer):
        field = str(error.get("field") or "")
        match = _FIELD_INDEX.match(field)
        if match is None or int(match.group(1)) >= count:
            return {}
        text = f"{field}: {error.get('message') or ''}"[:300]
        blamed = SendOutcome.PERMANENT if _EMAIL_FIELD.search(field) else SendOutcome.UNSENDABLE
        bad[int(match.group(1))] = (blamed, text)
    return bad


def _retry_after(answer: _Answer) -> float | None:
    seconds = parse_retry_after(answer.headers.get("Retry-After"))
    if seconds is None and answer.headers.get("X-RateLimit-Reset"):
        try:
            seconds = max(0.0, float(answer.headers["X-RateLimit-Reset"]) - time.time())
        except ValueError:
            seconds = None
    return seconds
