"""The one-time code message on the channel adapters' rendering paths (no I/O; the file
outbox's is tests/integration/channels/test_code_outbox.py): the code and nothing else,
no link, no unsubscribe, no attempt id."""

from __future__ import annotations

import pytest

from channels.message_render import (
    apply_substitutions,
    email_substitutions,
    render_email,
    render_email_template,
    render_sms,
    sms_segments,
)
from channels.sendgrid_email import build_payload
from consent_portal.code_messages import code_message
from reconsent.kernel.vocab import Channel
from reconsent.settings import Settings

SETTINGS = Settings(_env_file=None, controller_name="Esempio S.r.l.")


@pytest.mark.parametrize("locale", ["it", "en"])
def test_the_code_email_says_the_code_and_nothing_to_click(locale: str) -> None:
    msg = code_message(SETTINGS, 7, Channel.EMAIL, "anna@example.com", "042137", locale)

    whole = render_email(msg)

    assert "042137" in whole.subject and "042137" in whole.text and "042137" in whole.html
    assert "http" not in whole.text and "href" not in whole.html
    assert f'lang="{locale}"' in whole.html and "Esempio S.r.l." in whole.text
    template = render_email_template(msg.context)
    assert "042137" not in template.text  # one body per context, the code substituted
    assert apply_substitutions(template, email_substitutions(msg)) == whole


@pytest.mark.parametrize("locale", ["it", "en"])
def test_the_code_sms_fits_one_segment(locale: str) -> None:
    msg = code_message(SETTINGS, 7, Channel.SMS, "+393331234567", "042137", locale)

    text = render_sms(msg)

    assert "042137" in text and "http" not in text
    assert sms_segments(text)[1] == 1


def test_sendgrid_carries_no_unsubscribe_and_no_attempt_id_for_a_code() -> None:
    msg = code_message(SETTINGS, 7, Channel.EMAIL, "anna@example.com", "042137", "it")

    [personalization] = build_payload(msg.context, [msg], "privacy@example.com")["personalizations"]

    assert "headers" not in personalization
    assert personalization["custom_args"] == {"code_id": "7"}
    assert personalization["substitutions"] == {"-code-": "042137"}
