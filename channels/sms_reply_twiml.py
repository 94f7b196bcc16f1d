"""The answers to inbound SMS replies, as TwiML (``MessagingResponse``), in Italian or English.

* STOP-family: no more SMS, the SMS consent withdrawn, and how to stop the rest;
* STOPALL: no contact of any kind, every consent withdrawn;
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
        SmsKeyword.STOP: "{controller}: non riceverà più SMS da noi e il consenso agli SMS "
        "è revocato. Per non essere più contattato in alcun modo (email, telefonate) "
        "risponda STOPALL. Info: {contact}",
        SmsKeyword.STOP_ALL: "{controller}: non la contatteremo più, con nessun mezzo, e ogni "
        "consenso che ci aveva dato è revocato. Info: {contact}",
        SmsKeyword.START: "{controller}: può di nuovo ricevere i nostri SMS. Non è un consenso: "
        "le Sue scelte sulla privacy restano invariate.",
        SmsKeyword.HELP: "{controller} - info: {contact} - per non ricevere più SMS risponda "
        "STOP, per non essere più contattato in alcun modo STOPALL{link}",
        "link": " oppure apra {url}",
    },
    "en": {
        SmsKeyword.STOP: "{controller}: you will receive no more text messages from us and "
        "your consent to them is withdrawn. To never be contacted again in any way (e-mails, "
        "calls), reply STOPALL. Questions: {contact}",
        SmsKeyword.STOP_ALL: "{controller}: we will never contact you again, by any means, "
        "and every consent you gave us is withdrawn. Questions: {contact}",
        SmsKeyword.START: "{controller}: you can receive our SMS again. This is not consent: "
        "your privacy choices are unchanged.",
        SmsKeyword.HELP: "{controller} - questions: {contact} - to stop text messages reply "
        "STOP, to never be contacted again STOPALL{link}",
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
