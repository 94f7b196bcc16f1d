from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from jinja2 import UndefinedError

from channels.message_render import (
    HTML_TAGS,
    TEXT_TAGS,
    SmsEncoding,
    apply_substitutions,
    email_substitutions,
    environment,
    render_email,
    render_email_template,
    render_sms,
    sms_segments,
)
from reconsent.kernel.errors import SmsTooLongError
from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import MessageContext, OutboundMessage
from reconsent.kernel.vocab import Channel

MakeMessage = Callable[..., OutboundMessage]


@pytest.mark.parametrize(
    ("locale", "greeting", "subject_words", "body_words"),
    [
        ("it", "Gentile Anna,", "conferma i Suoi consensi", ["Offerte via email", "14 giorni"]),
        ("en", "Hello Anna,", "please confirm", ["Offers by email", "14 days"]),
    ],
)
def test_email_says_who_why_what_and_how_to_leave(
    make_message: MakeMessage,
    locale: str,
    greeting: str,
    subject_words: str,
    body_words: list[str],
) -> None:
    msg = make_message(locale=locale)
    email = render_email(msg)
    assert subject_words in email.subject and "Example Contact Centre" in email.subject
    for part in (email.text, email.html):
        assert greeting in part
        assert "Example Contact Centre S.r.l." in part and "privacy@example.com" in part
        assert msg.link in part and msg.optout_link in part
        for word in body_words:
            assert word in part
        assert 500 < len(part.encode()) < 4000
    assert f'href="{msg.link}"' in email.html
    assert f'href="{msg.optout_link}"' in email.html
    assert f'<html lang="{locale}">' in email.html


def test_email_without_a_name_greets_politely(make_message: MakeMessage) -> None:
    assert render_email(make_message(to_name=None)).text.startswith("Gentile cliente,")
    assert render_email(make_message(locale="en", to_name="  ")).text.startswith("Hello,")


@pytest.mark.parametrize(
    ("given", "resolved"),
    [("it", "it"), ("it-IT", "it"), ("EN_gb", "en"), ("de", "en"), ("", "en")],
)
def test_locale_falls_back_to_english(given: str, resolved: str) -> None:
    assert resolve_language(given) == resolved


def test_unknown_locale_renders_english(make_message: MakeMessage) -> None:
    assert render_email(make_message(locale="de")).subject.endswith(
        "please confirm your privacy choices"
    )


def test_html_autoescapes_the_name_but_text_keeps_it(make_message: MakeMessage) -> None:
    email = render_email(make_message(to_name="<b>Ann</b>"))
    assert "&lt;b&gt;Ann&lt;/b&gt;" in email.html and "<b>Ann</b>" not in email.html
    assert "Gentile <b>Ann</b>," in email.text


def test_html_autoescapes_context_text(
    make_message: MakeMessage, make_ctx: Callable[..., MessageContext]
) -> None:
    ctx = make_ctx(controller_name="Rossi & <Figli>")
    email = render_email(make_message(context=ctx))
    assert "Rossi &amp; &lt;Figli&gt;" in email.html and "Rossi & <Figli>" in email.text


def test_templates_refuse_undefined_variables() -> None:
    with pytest.raises(UndefinedError):
        environment().get_template("en/email.txt").render(controller_name="x")


@pytest.mark.parametrize("name", ["Anna", None, "<b>Ann</b>", 'O\'Brien & "Co"', "-link-"])
@pytest.mark.parametrize("locale", ["it", "en"])
def test_template_plus_substitutions_equals_the_full_render(
    make_message: MakeMessage, name: str | None, locale: str
) -> None:
    msg = make_message(locale=locale, to_name=name, link="http://portal.test/c/t?a=1&b=<2>")
    template = render_email_template(msg.context)
    assert apply_substitutions(template, email_substitutions(msg)) == render_email(msg)


def test_template_carries_tags_not_personal_values(make_message: MakeMessage) -> None:
    msg = make_message()
    template = render_email_template(msg.context)
    assert msg.link not in template.text + template.html and "Anna" not in template.text
    assert set(TEXT_TAGS.values()) <= set(re.findall(r"-[a-z_]+-", template.text))
    assert set(HTML_TAGS.values()) <= set(re.findall(r"-[a-z_]+-", template.html))
    assert set(email_substitutions(msg)) == set(TEXT_TAGS.values()) | set(HTML_TAGS.values())
    assert render_email_template(msg.context) is template  # one render per context


def test_substitution_values_are_escaped_for_html_only(make_message: MakeMessage) -> None:
    subs = email_substitutions(make_message(to_name="<i>Al</i>", link="http://p.test/c?a=1&b=2"))
    assert subs["-greeting-"] == "Gentile <i>Al</i>,"
    assert subs["-greeting_html-"] == "Gentile &lt;i&gt;Al&lt;/i&gt;,"
    assert subs["-link_html-"] == "http://p.test/c?a=1&amp;b=2"


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", SmsEncoding.GSM7, 0),
        ("a" * 160, SmsEncoding.GSM7, 1),
        ("a" * 161, SmsEncoding.GSM7, 2),
        ("a" * 306, SmsEncoding.GSM7, 2),
        ("a" * 307, SmsEncoding.GSM7, 3),
        ("è" * 160, SmsEncoding.GSM7, 1),  # è is in the GSM-7 basic set
        ("€" * 80, SmsEncoding.GSM7, 1),  # extension: 2 septets each
        ("€" * 81, SmsEncoding.GSM7, 2),
        ("a" * 152 + "€" + "a" * 152, SmsEncoding.GSM7, 3),  # € never straddles two segments
        ("ł", SmsEncoding.UCS2, 1),  # ł is not GSM-7: the whole text goes UCS-2
        ("ł" + "a" * 69, SmsEncoding.UCS2, 1),
        ("ł" + "a" * 70, SmsEncoding.UCS2, 2),
        ("ł" * 134, SmsEncoding.UCS2, 2),
        ("ł" * 135, SmsEncoding.UCS2, 3),
        ("😀" * 35, SmsEncoding.UCS2, 1),  # a surrogate pair counts 2
        ("😀" * 36, SmsEncoding.UCS2, 2),
    ],
)
def test_sms_segments(text: str, encoding: SmsEncoding, segments: int) -> None:
    assert sms_segments(text) == (encoding, segments)


@pytest.mark.parametrize("locale", ["it", "en"])
def test_sms_carries_link_and_optout_link(make_message: MakeMessage, locale: str) -> None:
    msg = make_message(channel=Channel.SMS, locale=locale)
    text = render_sms(msg)
    assert msg.link in text and msg.optout_link in text and "Example Contact Centre" in text
    assert "\n" not in text
    encoding, segments = sms_segments(text)
    assert encoding is SmsEncoding.GSM7 and segments <= 3


def test_sms_falls_back_to_the_short_wording(make_message: MakeMessage) -> None:
    msg = make_message(channel=Channel.SMS)
    full, short = render_sms(msg, max_segments=3), render_sms(msg, max_segments=1)
    assert len(short) < len(full) and sms_segments(short)[1] == 1
    assert msg.link in short and msg.optout_link in short


def test_sms_too_long_is_a_clear_config_error(
    make_message: MakeMessage, make_ctx: Callable[..., MessageContext]
) -> None:
    msg = make_message(channel=Channel.SMS, context=make_ctx(controller_name="Łódź " * 30))
    with pytest.raises(SmsTooLongError) as info:
        render_sms(msg, max_segments=2)
    assert info.value.max_segments == 2 and info.value.segments > 2
    assert "RECONSENT_SMS_MAX_SEGMENTS" in str(info.value) and msg.link not in str(info.value)
