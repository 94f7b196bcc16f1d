"""TwiML for the re-consent call, built with Twilio's ``VoiceResponse``.

Conventions shared with the portal:

* Twilio fetches the call script from the attempt's ``voice_url``
  (``/webhooks/twilio/voice?t=TOKEN``); a person hears :func:`call_twiml`, an
  answering machine :func:`machine_twiml` (``AnsweredBy`` tells which, thanks to
  ``MachineDetection=DetectMessageEnd``).
* The key pressed goes to :func:`gather_url_for` the voice URL
  (``/webhooks/twilio/voice/gather?t=TOKEN``: same query, ``/gather`` appended
  to the path); the portal records the choice and answers with
  :func:`answer_twiml`.
* Keys: 1 consent to the purposes read out, 2 refuse, 3 get the link by SMS,
  9 never be called again.  No key, or another key, records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from twilio.twiml.voice_response import VoiceResponse

from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import MessageContext

__all__ = [
    "GATHER_TIMEOUT_SECONDS",
    "answer_twiml",
    "call_twiml",
    "gather_url_for",
    "machine_twiml",
]

GATHER_TIMEOUT_SECONDS = 8


@dataclass(frozen=True)
class _Phrases:
    language: str  # the <Say language> attribute
    intro: str  # {controller}, {purposes}
    menu: str
    no_input: str
    machine: str  # {controller}, {portal}
    answers: dict[str, str]
    invalid: str
    conjunction: str
    sms_unavailable: str  # key 3 when this person cannot be texted


_PHRASES = {
    "it": _Phrases(
        language="it-IT",
        intro=(
            "Buongiorno, la chiamiamo da parte di {controller}: abbiamo aggiornato "
            "l'informativa sulla privacy e le chiediamo di confermare il consenso "
            "per queste finalità: {purposes}."
        ),
        menu=(
            "Prema 1 per acconsentire a queste finalità, 2 per rifiutare, "
            "3 per ricevere il link via SMS, 9 per non essere più chiamato."
        ),
        no_input="Nessun tasto premuto: non abbiamo registrato nulla. Arrivederci.",
        machine=(
            "Buongiorno, la chiamavamo da parte di {controller} per le sue preferenze "
            "sulla privacy: può confermarle o rifiutarle su {portal}. Da questo messaggio "
            "non registriamo alcuna scelta. Arrivederci."
        ),
        answers={
            "1": "Grazie: abbiamo registrato il suo consenso per le finalità indicate. "
            "Può revocarlo in qualsiasi momento. Arrivederci.",
            "2": "Abbiamo registrato il suo rifiuto. Grazie e arrivederci.",
            "3": "Le invieremo a breve un SMS con il link per scegliere. Arrivederci.",
            "9": "Non la chiameremo più per offerte commerciali e il consenso alle chiamate "
            "è revocato. Per non ricevere più neanche email o SMS, usi il link nei nostri "
            "messaggi oppure risponda STOPALL a un nostro SMS. Arrivederci.",
        },
        invalid="Scelta non valida: non abbiamo registrato nulla. Arrivederci.",
        conjunction="e",
        sms_unavailable="Non possiamo inviare SMS a questo numero: non abbiamo registrato "
        "nulla. Arrivederci.",
    ),
    "en": _Phrases(
        language="en-GB",
        intro=(
            "Hello, this is a call on behalf of {controller}: we have updated our "
            "privacy notice and would like to ask you to confirm your consent "
            "for these purposes: {purposes}."
        ),
        menu=(
            "Press 1 to consent to these purposes, 2 to refuse, "
            "3 to receive the link by SMS, 9 to never be called again."
        ),
        no_input="No key pressed: nothing has been recorded. Goodbye.",
        machine=(
            "Hello, we called on behalf of {controller} about your privacy choices: "
            "you can confirm or refuse them at {portal}. Nothing is recorded from this "
            "message. Goodbye."
        ),
        answers={
            "1": "Thank you: your consent to these purposes has been recorded. "
            "You can withdraw it at any time. Goodbye.",
            "2": "Your refusal has been recorded. Thank you, goodbye.",
            "3": "We will shortly send you an SMS with the link to choose. Goodbye.",
            "9": "We will not call you again with offers, and your consent to calls is "
            "withdrawn. To stop e-mails and text messages too, use the link in our "
            "messages or reply STOPALL to one of our texts. Goodbye.",
        },
        invalid="Not a valid choice: nothing has been recorded. Goodbye.",
        conjunction="and",
        sms_unavailable="We cannot send an SMS to this number: nothing has been recorded. Goodbye.",
    ),
}


def _phrases(context: MessageContext) -> _Phrases:
    return _PHRASES[resolve_language(context.locale)]


def _purpose_list(context: MessageContext, conjunction: str) -> str:
    titles = [purpose.title for purpose in context.purposes]
    if len(titles) <= 1:
        return "".join(titles)
    return f"{', '.join(titles[:-1])} {conjunction} {titles[-1]}"


def call_twiml(context: MessageContext, gather_url: str, audio_url: str | None) -> str:
    """What a person who answers hears: who calls, the purposes, the key menu.

    With ``audio_url`` (a recorded voice for the locale) the menu is a
    ``<Play>``; otherwise a ``<Say>`` in the locale's language.
    """
    phrases = _phrases(context)
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        action=gather_url,
        method="POST",
        timeout=GATHER_TIMEOUT_SECONDS,
    )
    if audio_url:
        gather.play(audio_url)
    else:
        intro = phrases.intro.format(
            controller=context.controller_name,
            purposes=_purpose_list(context, phrases.conjunction),
        )
        gather.say(f"{intro} {phrases.menu}", language=phrases.language)
    response.say(phrases.no_input, language=phrases.language)
    response.hangup()
    return str(response.to_xml())


def machine_twiml(context: MessageContext, portal_hint: str) -> str:
    """A short voicemail message: where to decide; no consent is taken from it."""
    phrases = _phrases(context)
    response = VoiceResponse()
    response.say(
        phrases.machine.format(controller=context.controller_name, portal=portal_hint),
        language=phrases.language,
    )
    response.hangup()
    return str(response.to_xml())


def answer_twiml(context: MessageContext, digit: str, *, sms_unavailable: bool = False) -> str:
    """The acknowledgement for a pressed key; anything but 1/2/3/9 records nothing.

    ``sms_unavailable``: key 3 was pressed by someone who cannot be texted.
    """
    phrases = _phrases(context)
    response = VoiceResponse()
    text = phrases.answers.get(digit.strip(), phrases.invalid)
    if sms_unavailable and digit.strip() == "3":
        text = phrases.sms_unavailable
    response.say(text, language=phrases.language)
    response.hangup()
    return str(response.to_xml())


def gather_url_for(voice_url: str) -> str:
    """``.../webhooks/twilio/voice?t=X`` -> ``.../webhooks/twilio/voice/gather?t=X``."""
    parts = urlsplit(voice_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("the voice URL must be absolute (scheme and host)")
    path = parts.path.rstrip("/") + "/gather"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
