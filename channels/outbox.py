"""The file outbox: messages become files a person can open, instead of provider calls.

Layout under ``root``::

    email/attempt-<attempt_id>.eml   RFC 5322 message, multipart/alternative text + HTML,
                                     List-Unsubscribe + List-Unsubscribe-Post (RFC 8058)
    sms/attempt-<attempt_id>.txt     "To:" and "Segments:" lines, a blank line, the text
    ivr/attempt-<attempt_id>.xml     the TwiML a person who answers would hear
    email/code-<id>.eml, sms/code-<id>.txt
                                     a one-time code (``OutboundMessage.code``): <id> is
                                     the code challenge's, not an attempt's
    index.jsonl                      one JSON line per attempt written for the first time:
                                     attempt_id, request_id, channel, file, link, voice_url
                                     (a code message: code_id, channel, file; never the code)

Files are written atomically (temporary file + ``os.replace``), so sending the
same attempt again rewrites its file harmlessly (``idempotent = True``) and the
manifest gets a line only when the attempt's file did not exist yet.  The
manifest holds ids and links only: no names, addresses or phone numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from email import policy
from email.charset import QP, Charset
from email.errors import MessageError
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import IO, Any

from channels.ivr_twiml import Voice, call_twiml, gather_url_for, spoken_portal
from channels.message_render import (
    DEFAULT_SMS_MAX_SEGMENTS,
    apply_substitutions,
    email_substitutions,
    render_email,
    render_email_template,
    render_sms,
    sms_segments,
)
from reconsent.kernel.clock import Clock, SystemClock
from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import OutboundMessage, SendOutcome, SendResult
from reconsent.kernel.vocab import Channel

__all__ = ["MANIFEST_NAME", "FileOutbox"]

MANIFEST_NAME = "index.jsonl"
_EXTENSIONS = {Channel.EMAIL: "eml", Channel.SMS: "txt", Channel.IVR: "xml"}


class FileOutbox:
    """A :class:`reconsent.kernel.ports.ChannelAdapter` writing one file per attempt."""

    provider = "outbox"
    idempotent = True
    reports_back = False  # nothing reports back, and nothing needs to: re-sending is harmless

    def __init__(
        self,
        channel: Channel,
        root: Path,
        *,
        from_email: str = "privacy@example.com",
        from_name: str | None = None,
        sms_from: str | None = None,
        ivr_audio_urls: Mapping[str, str] | None = None,
        voice: Voice | None = None,
        sms_max_segments: int = DEFAULT_SMS_MAX_SEGMENTS,
        clock: Clock | None = None,
        max_batch: int = 1000,
    ) -> None:
        self.channel = channel
        self.root = Path(root)
        self.max_batch = max_batch
        self._from_header = formataddr((from_name or "", from_email), charset="utf-8")
        self._from_domain = from_email.rpartition("@")[2] or "localhost"
        self._sms_from = sms_from
        self._audio_urls = dict(ivr_audio_urls or {})
        self._voice = voice or Voice(spoken_portal("https://localhost"), {})
        self._sms_max_segments = sms_max_segments
        self._clock = clock or SystemClock()
        self._manifest_lock = threading.Lock()
        self._dirs: set[Path] = set()  # folders already created

    def path_for(self, attempt_id: int, *, code: bool = False) -> Path:
        stem = f"code-{attempt_id}" if code else f"attempt-{attempt_id}"
        return self.root / self.channel.value / f"{stem}.{_EXTENSIONS[self.channel]}"

    def notice_path_for(self, notice_id: int) -> Path:
        """Where a service notice goes (its own numbering: never an attempt's file)."""
        return self.root / self.channel.value / f"notice-{notice_id}.{_EXTENSIONS[self.channel]}"

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        for msg in messages:
            if msg.channel is not self.channel:
                raise ValueError(f"attempt {msg.attempt_id} is not a {self.channel} message")
            if self.channel is Channel.IVR and not msg.voice_url:
                raise ValueError(f"IVR attempt {msg.attempt_id} has no voice_url")
        with _Manifest(self.root / MANIFEST_NAME, self._manifest_lock) as manifest:
            return [self._send_one(msg, manifest) for msg in messages]

    def _send_one(self, msg: OutboundMessage, manifest: _Manifest) -> SendResult:
        if self.channel is Channel.EMAIL:
            try:
                _ascii_address(msg.to)
            except (ValueError, IndexError, MessageError) as exc:  # an address email rejects
                return self._failed(msg, SendOutcome.PERMANENT, "invalid_address", exc)
        try:
            content = self._content(msg)
        except (ValueError, IndexError, MessageError, UnicodeError) as exc:
            # The message, not the address: failed and escalated, never a suppression.
            return self._failed(msg, SendOutcome.UNSENDABLE, "render_error", exc)
        notice = msg.notice is not None
        if notice:
            path = self.notice_path_for(msg.attempt_id)
        else:
            path = self.path_for(msg.attempt_id, code=msg.code is not None)
        try:
            created = _write_atomic(path, content, self._dirs)
            if created and not notice:  # the manifest lists the wave's links only
                manifest.append(self._manifest_entry(msg, path))
        except OSError as exc:
            return SendResult(
                msg.attempt_id,
                SendOutcome.TRANSIENT,
                self.provider,
                error_code="io_error",
                error_detail=exc.strerror or type(exc).__name__,
            )
        return SendResult(
            msg.attempt_id,
            SendOutcome.SENT,
            self.provider,
            provider_message_id=f"outbox-{'notice-' if notice else ''}{msg.attempt_id}",
        )

    def _failed(
        self, msg: OutboundMessage, outcome: SendOutcome, code: str, exc: Exception
    ) -> SendResult:
        return SendResult(
            msg.attempt_id, outcome, self.provider, error_code=code, error_detail=type(exc).__name__
        )

    def _content(self, msg: OutboundMessage) -> bytes:
        if self.channel is Channel.EMAIL:
            return self._email(msg)
        if self.channel is Channel.SMS:
            body = render_sms(msg, self._sms_max_segments)
            encoding, segments = sms_segments(body)
            lines = [f"To: {msg.to}"]
            if self._sms_from:
                lines.append(f"From: {self._sms_from}")
            lines += [f"Segments: {segments} ({encoding})", "", body, ""]
            return "\n".join(lines).encode()
        assert msg.voice_url is not None  # checked in send()
        audio = self._audio_urls.get(resolve_language(msg.context.locale))
        return call_twiml(msg.context, gather_url_for(msg.voice_url), audio, self._voice).encode()

    def _email(self, msg: OutboundMessage) -> bytes:
        return self._message(msg).as_bytes(policy=_SMTP_COMPAT)

    def _message(self, msg: OutboundMessage) -> MIMEMultipart:
        """An RFC 5322 message built with the compat32 MIME classes: the modern
        ``EmailMessage`` API re-parses every header and costs ~10x more per message."""
        if msg.notice is not None:
            return self._notice_message(msg)
        # The context's body rendered once, then this message's values: equal to
        # render_email(msg), without a Jinja render per message.
        rendered = apply_substitutions(render_email_template(msg.context), email_substitutions(msg))
        # A boundary derived from the content (which cannot contain its own digest) keeps a
        # re-sent attempt byte-identical instead of random.
        digest = hashlib.sha256(f"{rendered.text}\0{rendered.html}".encode()).hexdigest()
        email = MIMEMultipart("alternative", boundary=f"reconsent-{digest[:32]}")
        email["From"] = self._from_header
        email["To"] = formataddr((msg.to_name or "", _ascii_address(msg.to)), charset="utf-8")
        email["Subject"] = _header(rendered.subject)
        email["Date"] = format_datetime(self._clock.now())
        if msg.code is not None:  # a one-time code: a service message, nothing to unsubscribe
            email["Message-ID"] = f"<reconsent.code-{msg.attempt_id}@{self._from_domain}>"
            email["X-Reconsent-Code"] = str(msg.attempt_id)
        else:
            email["Message-ID"] = f"<reconsent.attempt-{msg.attempt_id}@{self._from_domain}>"
            email["List-Unsubscribe"] = f"<{msg.optout_link}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            email["X-Reconsent-Attempt"] = str(msg.attempt_id)
        email.attach(_text_part(rendered.text, "plain"))
        email.attach(_text_part(rendered.html, "html"))
        return email

    def _notice_message(self, msg: OutboundMessage) -> MIMEMultipart:
        """A service notice: its own text, no List-Unsubscribe (it asks for nothing)."""
        rendered = render_email(msg)
        digest = hashlib.sha256(f"{rendered.text}\0{rendered.html}".encode()).hexdigest()
        email = MIMEMultipart("alternative", boundary=f"reconsent-{digest[:32]}")
        email["From"] = self._from_header
        email["To"] = formataddr((msg.to_name or "", _ascii_address(msg.to)), charset="utf-8")
        email["Subject"] = _header(rendered.subject)
        email["Date"] = format_datetime(self._clock.now())
        email["Message-ID"] = f"<reconsent.notice-{msg.attempt_id}@{self._from_domain}>"
        email["X-Reconsent-Notice"] = str(msg.attempt_id)
        email.attach(_text_part(rendered.text, "plain"))
        email.attach(_text_part(rendered.html, "html"))
        return email

    def _manifest_entry(self, msg: OutboundMessage, path: Path) -> dict[str, object]:
        file = path.relative_to(self.root).as_posix()
        if msg.code is not None:
            return {"code_id": msg.attempt_id, "channel": msg.channel.value, "file": file}
        return {
            "attempt_id": msg.attempt_id,
            "request_id": msg.request_id,
            "channel": msg.channel.value,
            "file": file,
            "link": msg.link,
            "voice_url": msg.voice_url,
        }


class _Manifest:
    """The manifest, opened (for appending) at the first line of a batch, not per line;
    each line is flushed at once, under the outbox's lock."""

    def __init__(self, path: Path, lock: threading.Lock) -> None:
        self.path, self.lock = path, lock
        self.handle: IO[str] | None = None

    def __enter__(self) -> _Manifest:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.handle is not None:
            self.handle.close()

    def append(self, entry: Mapping[str, object]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.lock:
            if self.handle is None:
                self.handle = self.path.open("a", encoding="utf-8")
            self.handle.write(line)
            self.handle.flush()


class _Compat32(policy.Compat32):
    """``compat32`` that writes a short single-line ASCII header as it is: folding it
    through ``email.header.Header`` gives the same bytes, at ~40 us a header."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= (self.max_line_length or 0)
            and _PLAIN_HEADER.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


#: Printable ASCII words separated by single spaces: nothing Header would re-space.
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")
_SMTP_COMPAT = _Compat32(linesep="\r\n")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the .eml, 7-bit safe


def _text_part(body: str, subtype: str) -> MIMEText:
    part = MIMEText(body, subtype, _UTF8_QP)  # type: ignore[arg-type]  # a Charset is accepted
    del part["MIME-Version"]  # only on the top-level message
    return part


def _header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _ascii_address(address: str) -> str:
    """IDNA-encode an internationalised domain; ``ValueError`` for what no SMTP server
    without SMTPUTF8 accepts (no single @, spaces, a non-ASCII local part)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local or any(c.isspace() for c in address):
        raise ValueError("not an e-mail address")
    if not local.isascii():
        raise ValueError("non-ASCII local part needs SMTPUTF8")
    if domain.isascii():
        return address
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _write_atomic(path: Path, content: bytes, made: set[Path]) -> bool:
    """Write ``content`` to ``path`` atomically; True when the file did not exist before.

    The temporary file is named after the path, the process and the thread (unique
    among concurrent writers, without ``mkstemp``'s random names); ``made`` remembers
    the folders already created."""
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)
    existed = path.exists()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return not existed
