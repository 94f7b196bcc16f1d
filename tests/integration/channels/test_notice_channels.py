"""A service notice (a rights request's answer) through the real adapters: SendGrid
(emulated) sends it as its own request, with its words, no one-click unsubscribe
and custom args naming the notice, never a wave attempt; Twilio sends its SMS text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from channels.sendgrid_email import SendGridEmail
from channels.twilio_sms import TwilioSms
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.twilio import TwilioEmulator
from reconsent.kernel.ports import OutboundMessage, SendOutcome
from reconsent.kernel.vocab import Channel
from reconsent.rights.notice_text import NoticeFacts, render_notice

MakeMessage = Callable[..., OutboundMessage]
WHEN = datetime(2026, 12, 1, 10, tzinfo=UTC)
SENDGRID_KEY = "SG.test-key"  # what the emulators of conftest.py accept
TWILIO_SID, TWILIO_TOKEN = "AC" + "a1" * 16, "test-twilio-token"


def _notice(locale: str = "en") -> NoticeFacts:
    return NoticeFacts(
        action="declined",
        kind="erasure",
        reference=41,
        locale=locale,
        timezone="Europe/London",
        received_at=WHEN,
        due_at=WHEN,
        controller_name="Example Ltd",
        controller_contact="dpo@example.com",
        authority="the ICO (ico.org.uk)",
        reason="We must keep your invoices for ten years (tax law)",
    )


def test_sendgrid_sends_a_notice_apart_from_the_wave_messages(
    sendgrid: SendGridEmulator, sendgrid_url: str, make_message: MakeMessage
) -> None:
    adapter = SendGridEmail(SENDGRID_KEY, sendgrid_url, "privacy@example.com", "Privacy team")
    wave_message = make_message(7)
    notice = make_message(7, link="", optout_link="", notice=render_notice(_notice()))

    results = adapter.send([wave_message, notice])

    assert [r.outcome for r in results] == [SendOutcome.SENT, SendOutcome.SENT]
    assert len(sendgrid.requests) == 2  # a notice shares no body with a wave's message
    by_args = {tuple(sorted(d.custom_args)): d for d in sendgrid.deliveries()}
    told = by_args[("rights_notice_id",)]
    assert told.custom_args == {"rights_notice_id": "7"}  # never read as attempt 7
    assert told.subject == "Your request: our answer (41)"
    assert "keep your invoices for ten years" in told.contents["text/plain"]
    assert "the ICO (ico.org.uk)" in told.contents["text/html"]
    assert "List-Unsubscribe" not in told.headers
    assert by_args[("attempt_id", "request_id")].headers["List-Unsubscribe"]


def test_twilio_sends_the_notice_sms_text(
    twilio: TwilioEmulator, twilio_url: str, make_message: MakeMessage
) -> None:
    text = render_notice(_notice("it"))
    adapter = TwilioSms(TWILIO_SID, TWILIO_TOKEN, "ReConsent", twilio_url)
    msg = make_message(3, channel=Channel.SMS, link="", optout_link="", notice=text)

    (result,) = adapter.send([msg])

    (created,) = twilio.created("Messages")
    assert result.outcome is SendOutcome.SENT
    assert created.params["Body"] == text.sms
    assert "rif. 41" in text.sms and "ICO" in text.sms and "Motivo: We must keep" in text.sms
