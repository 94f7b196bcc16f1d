"""The answers to inbound SMS replies, as TwiML (``MessagingResponse``), in Italian or English.

* STOP-family: a confirmation that no more messages come and consents are withdrawn;
* START / UNSTOP: messages may come again, and this is not consent;
* HELP and anything else: who writes (the controller), the opt-out keyword and
  the one-click opt-out link when the number belongs to a known request (last,
  with no punctuation after it, so phones do not swallow a dot into the link).
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse

from reconsent.kernel.locales import resolve_language
from reconsent.kernel.rules.sms_keywords import SmsKeyword

__all__ = ["empty_twiml", "reply_text", "reply_twiml"]

_TEXTS = {
    "it": {
        SmsKeyword.STOP: "{controller}: non riceverà più messaggi da noi e gli eventuali "
        "consensi sono revocati. Info: {contact}",
        SmsKeyword.START: "{controller}: può di nuovo ricevere i nostri SMS. Non è un consenso: "
        "le Sue scelte sulla privacy restano invariate.",
        SmsKeyword.HELP: "{controller} - info: {contact} - per non ricevere più messaggi "
        "risponda STOP{link}",
        "link": " oppure apra {url}",
    },
    "en": {
        SmsKeyword.STOP: "{controller}: you will receive no more messages from us and any "
        "consent you gave is withdrawn. Questions: {contact}",
        SmsKeyword.START: "{controller}: you can receive our SMS again. This is not consent: "
        "your privacy choices are unchanged.",
        SmsKeyword.HELP: "{controller} - questions: {contact} - to stop all messages "
        "reply STOP{link}",
        "link": " or open {url}",
    },
}


def reply_text(
    keyword: SmsKeyword,
    locale: str,
    *,
    controller: str,
    contact: str,
    optout_link: str | None = None,
) -> str:
    texts = _TEXTS[resolve_language(locale)]
    kind = SmsKeyword.HELP if keyword is SmsKeyword.OTHER else keyword
    link = texts["link"].format(url=optout_link) if optout_link else ""
    return texts[kind].format(controller=controller, contact=contact, link=link)


def reply_twiml(
    keyword: SmsKeyword,
    locale: str,
    *,
    controller: str,
    contact: str,
    optout_link: str | None = None,
) -> str:
    response = MessagingResponse()
    text = reply_text(
        keyword, locale, controller=controller, contact=contact, optout_link=optout_link
    )
    response.message(text)
    return str(response.to_xml())


def empty_twiml() -> str:
    """No answer at all (a replayed callback must not text the person again)."""
    return str(MessagingResponse().to_xml())
