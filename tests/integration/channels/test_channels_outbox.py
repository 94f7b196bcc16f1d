from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from channels.message_render import render_email, render_sms
from channels.outbox import MANIFEST_NAME, FileOutbox
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.ports import ChannelAdapter, OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel

MakeMessage = Callable[..., OutboundMessage]
VOICE_URL = "https://portal.test/webhooks/twilio/voice?t=tok-9"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _outbox(channel: Channel, root: Path) -> FileOutbox:
    return FileOutbox(
        channel,
        root,
        from_email="privacy@example.com",
        from_name="Privacy team",
        ivr_audio_urls={"en": "https://cdn.test/en.mp3"},
        clock=FixedClock(NOW),
    )


def _manifest(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / MANIFEST_NAME).read_text().splitlines()]


def _twiml(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())  # noqa: S314 - TwiML we just generated


def _lf(content: str) -> str:
    """The parser keeps the file's CRLF line ends in bodies."""
    return content.replace("\r\n", "\n").rstrip("\n")


def test_email_is_a_real_rfc5322_message(tmp_path: Path, make_message: MakeMessage) -> None:
    msg = make_message(5, to_name="Anna Rossi")
    outbox = _outbox(Channel.EMAIL, tmp_path)
    assert isinstance(outbox, ChannelAdapter)
    (result,) = outbox.send([msg])
    assert (result.outcome, result.provider, result.provider_message_id) == (
        SendOutcome.SENT,
        "outbox",
        "outbox-5",
    )
    raw = (tmp_path / "email" / "attempt-5.eml").read_bytes()
    assert b"\r\n" in raw  # SMTP line endings
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    expected = render_email(msg)
    assert parsed["From"] == "Privacy team <privacy@example.com>"
    assert parsed["To"] == "Anna Rossi <anna.rossi@example.com>"
    assert parsed["Subject"] == expected.subject
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"] == "<reconsent.attempt-5@example.com>"
    assert parsed["List-Unsubscribe"] == f"<{msg.optout_link}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    assert _lf(text.get_content()) == expected.text.rstrip("\n")
    assert _lf(html.get_content()) == expected.html.rstrip("\n")


def test_sms_and_call_files(tmp_path: Path, make_message: MakeMessage) -> None:
    sms = make_message(6, channel=Channel.SMS)
    _outbox(Channel.SMS, tmp_path).send([sms])
    lines = (tmp_path / "sms" / "attempt-6.txt").read_text().splitlines()
    assert lines[0] == "To: +393331234567" and lines[1].startswith("Segments: 2 (GSM-7)")
    assert lines[3] == render_sms(sms) and sms.optout_link in lines[3]

    call = make_message(7, channel=Channel.IVR, voice_url=VOICE_URL)
    english_call = make_message(8, channel=Channel.IVR, voice_url=VOICE_URL, locale="en")
    _outbox(Channel.IVR, tmp_path).send([call, english_call])
    gather = _twiml(tmp_path / "ivr" / "attempt-7.xml")[0]
    assert gather.tag == "Gather" and gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == "https://portal.test/webhooks/twilio/voice/gather?t=tok-9&q=0"
    assert gather[0].tag == "Say" and gather[0].attrib["language"] == "it-IT"
    english = _twiml(tmp_path / "ivr" / "attempt-8.xml")[0]
    assert (english[0].tag, english[0].text) == ("Play", "https://cdn.test/en.mp3")


def test_manifest_holds_ids_and_links_only(tmp_path: Path, make_message: MakeMessage) -> None:
    _outbox(Channel.EMAIL, tmp_path).send([make_message(1), make_message(2)])
    _outbox(Channel.IVR, tmp_path).send([make_message(3, channel=Channel.IVR, voice_url=VOICE_URL)])
    entries = _manifest(tmp_path)
    assert entries[0] == {
        "attempt_id": 1,
        "request_id": 1001,
        "channel": "email",
        "file": "email/attempt-1.eml",
        "link": make_message(1).link,
        "voice_url": None,
    }
    assert entries[2]["file"] == "ivr/attempt-3.xml" and entries[2]["voice_url"] == VOICE_URL
    text = (tmp_path / MANIFEST_NAME).read_text()
    assert "Anna" not in text and "example.com" not in text and "+39" not in text


def test_resending_an_attempt_rewrites_its_file_without_duplicates(
    tmp_path: Path, make_message: MakeMessage
) -> None:
    outbox = _outbox(Channel.EMAIL, tmp_path)
    outbox.send([make_message(1), make_message(2)])
    first = (tmp_path / "email" / "attempt-1.eml").read_bytes()
    results = outbox.send([make_message(1), make_message(3)])  # 1 again (after a crash)
    assert [r.outcome for r in results] == [SendOutcome.SENT] * 2
    assert sorted(p.name for p in (tmp_path / "email").iterdir()) == [
        "attempt-1.eml",
        "attempt-2.eml",
        "attempt-3.eml",
    ]  # no temporary files left either
    assert (tmp_path / "email" / "attempt-1.eml").read_bytes() == first
    assert [e["attempt_id"] for e in _manifest(tmp_path)] == [1, 2, 3]


def test_write_failure_is_transient(tmp_path: Path, make_message: MakeMessage) -> None:
    (tmp_path / "email").write_text("a file where the folder should be")
    (result,) = _outbox(Channel.EMAIL, tmp_path).send([make_message(1)])
    assert (result.outcome, result.error_code) == (SendOutcome.TRANSIENT, "io_error")


def test_refuses_a_call_without_voice_url_or_another_channel(
    tmp_path: Path, make_message: MakeMessage
) -> None:
    with pytest.raises(ValueError, match="voice_url"):
        _outbox(Channel.IVR, tmp_path).send([make_message(1, channel=Channel.IVR)])
    with pytest.raises(ValueError, match="not a sms message"):
        _outbox(Channel.SMS, tmp_path).send([make_message(1)])
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_unusable_addresses_fail_alone(tmp_path: Path, make_message: MakeMessage) -> None:
    messages = [
        make_message(1, to="not an address"),
        make_message(2, to="a@@b"),
        make_message(3, to="ànna@example.com"),  # non-ASCII local part needs SMTPUTF8
        make_message(4, to="anna@exämple.com", to_name="Zoë"),  # IDN domain: fine
    ]
    results = _outbox(Channel.EMAIL, tmp_path).send(messages)
    assert [(r.outcome, r.error_code) for r in results] == [
        (SendOutcome.PERMANENT, "invalid_address"),
        (SendOutcome.PERMANENT, "invalid_address"),
        (SendOutcome.PERMANENT, "invalid_address"),
        (SendOutcome.SENT, None),
    ]
    parsed = BytesParser(policy=policy.default).parsebytes(
        (tmp_path / "email" / "attempt-4.eml").read_bytes()
    )
    assert parsed["To"].addresses[0].domain == "xn--exmple-cua.com"
    assert parsed["To"].addresses[0].display_name == "Zoë"
    assert [e["attempt_id"] for e in _manifest(tmp_path)] == [4]
