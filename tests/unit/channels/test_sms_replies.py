"""The answers to inbound SMS replies."""

from __future__ import annotations

from channels.sms_reply_twiml import empty_twiml, reply_text, reply_twiml
from reconsent.kernel.rules.sms_keywords import SmsKeyword

WHO = {"controller": "Example S.r.l.", "contact": "privacy@example.it"}


def test_stop_confirms_in_the_contacts_language() -> None:
    italian = reply_text(SmsKeyword.STOP, "it", **WHO)
    english = reply_text(SmsKeyword.STOP, "en-GB", **WHO)
    assert italian.startswith("Example S.r.l.:") and "non riceverà più SMS" in italian
    assert "no more text messages" in english and "withdrawn" in english
    # what was stopped, and how to stop the rest
    assert "STOPALL" in italian and "STOPALL" in english


def test_stop_all_confirms_that_nothing_comes_any_more() -> None:
    italian = reply_text(SmsKeyword.STOP_ALL, "it", **WHO)
    english = reply_text(SmsKeyword.STOP_ALL, "en", **WHO)
    assert "nessun mezzo" in italian and "by any means" in english


def test_start_says_it_is_not_consent() -> None:
    assert "Non è un consenso" in reply_text(SmsKeyword.START, "it", **WHO)
    assert "not consent" in reply_text(SmsKeyword.START, "en", **WHO)


def test_help_and_anything_else_name_the_controller_the_keyword_and_the_link() -> None:
    link = "https://consent.example.it/o/abc"
    for keyword in (SmsKeyword.HELP, SmsKeyword.OTHER):
        text = reply_text(keyword, "it", optout_link=link, **WHO)
        assert "Example S.r.l." in text and "STOP" in text and text.endswith(link)
    assert "open" not in reply_text(SmsKeyword.HELP, "en", **WHO)  # no link, no dangling words


def test_twiml_escapes_and_empty_answers_nothing() -> None:
    twiml = reply_twiml(SmsKeyword.HELP, "en", controller="A & B <Ltd>", contact="x@y.it")
    assert "<Message>A &amp; B &lt;Ltd&gt; - questions" in twiml
    assert "<Message" not in empty_twiml() and "<Response" in empty_twiml()
