"""TwiML for the re-consent call, built with Twilio's ``VoiceResponse``.

Conventions shared with the portal:

* Twilio fetches the call script from the attempt's ``voice_url``
  (``/webhooks/twilio/voice?t=TOKEN``); a person hears :func:`call_twiml`, an
  answering machine :func:`machine_twiml` (``AnsweredBy`` tells which, thanks to
  ``MachineDetection=DetectMessageEnd``).
* **One question per purpose** (EDPB Guidelines 05/2020 on granularity: one
  key never consents to several purposes): the call opens with who is calling,
  why, the person's rights and where the full notice is, then asks purpose 1;
  each answer goes to :func:`gather_url_for` the voice URL with the question's
  index (``/webhooks/twilio/voice/gather?t=TOKEN&q=N``) and is answered with
  :func:`question_twiml` for the next purpose, or :func:`closing_twiml`.
* Keys: 1 yes to the purpose asked, 2 no, 3 get the link by SMS (ends the call),
  9 never be called again (ends the call). No key records nothing; another key
  repeats the question.
* Every ``<Say>`` names its language and a voice that speaks it (Twilio's
  default voice mispronounces Italian; invalid pairs fail): see ``Voice``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from twilio.twiml.voice_response import Gather, VoiceResponse

from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import MessageContext, PurposeText

__all__ = [
    "DEFAULT_VOICES",
    "GATHER_TIMEOUT_SECONDS",
    "Voice",
    "answer_twiml",
    "call_script",
    "call_twiml",
    "closing_twiml",
    "ended_twiml",
    "gather_url_for",
    "invalid_phrase",
    "machine_twiml",
    "question_twiml",
    "recorded_phrase",
    "spoken_intro",
    "spoken_portal",
    "spoken_question",
    "with_question",
]

GATHER_TIMEOUT_SECONDS = 8

#: Twilio text-to-speech voices per language (Amazon Polly, both documented by Twilio
#: for these languages); ``RECONSENT_IVR_VOICES`` overrides them.
DEFAULT_VOICES = {"it": "Polly.Bianca", "en": "Polly.Amy"}


@dataclass(frozen=True)
class _Phrases:
    language: str  # the <Say language> attribute
    intro: str  # {controller}, {count}, {portal}
    question: str  # {n}, {count}, {title}, {description}
    recorded: dict[str, str]  # "1" / "2" -> a short acknowledgement
    closing: str
    texted: str  # an SMS with the link to the person's choices is on its way
    no_input: str
    machine: str  # {controller}, {portal}
    answers: dict[str, str]  # "3", "9"
    invalid: str
    sms_unavailable: str  # key 3 when this person cannot be texted
    ended: str  # the request is closed, or the person objected since the call was placed


_PHRASES = {
    "it": _Phrases(
        language="it-IT",
        intro=(
            "Buongiorno, la chiamiamo da parte di {controller}, titolare del trattamento "
            "dei suoi dati, per chiederle se desidera ricevere le nostre comunicazioni. "
            "Le faremo {count} domande, una per finalità: per ciascuna prema 1 per sì "
            "o 2 per no. Può revocare il consenso in qualsiasi momento, e ha diritto di "
            "accedere ai suoi dati, correggerli, cancellarli e opporsi. L'informativa "
            "completa è su {portal}. In qualsiasi momento prema 3 per ricevere il link "
            "via SMS, o 9 per non essere più chiamato."
        ),
        question="Domanda {n} di {count}: {title}. {description} Prema 1 per sì, 2 per no.",
        recorded={"1": "Registrato: sì.", "2": "Registrato: no."},
        closing=(
            "Grazie: abbiamo registrato le sue scelte. Può cambiarle o revocare il "
            "consenso in qualsiasi momento richiamando questo numero, su {portal} o dal "
            "link nei nostri messaggi. Arrivederci."
        ),
        texted="Le invieremo un SMS con il link per vedere e cambiare le sue scelte.",
        no_input="Nessun tasto premuto: per questa domanda non abbiamo registrato nulla. "
        "Arrivederci.",
        machine=(
            "Buongiorno, la chiamavamo da parte di {controller} per le sue preferenze "
            "sulla privacy: può confermarle o rifiutarle su {portal}. Da questo messaggio "
            "non registriamo alcuna scelta. Arrivederci."
        ),
        answers={
            "3": "Le invieremo a breve un SMS con il link per scegliere. Arrivederci.",
            "9": "Non la chiameremo più per offerte commerciali e il consenso alle chiamate "
            "è revocato. Per non ricevere più neanche email o SMS, usi il link nei nostri "
            "messaggi oppure risponda STOPALL a un nostro SMS. Arrivederci.",
        },
        invalid="Scelta non valida.",
        sms_unavailable="Non possiamo inviare SMS a questo numero: non abbiamo registrato "
        "nulla. Arrivederci.",
        ended="Questa richiesta non è più attiva: non abbiamo registrato nulla. Arrivederci.",
    ),
    "en": _Phrases(
        language="en-GB",
        intro=(
            "Hello, this is a call on behalf of {controller}, the controller of your "
            "personal data, to ask whether you would like to hear from us. We will ask "
            "{count} questions, one per purpose: for each, press 1 for yes or 2 for no. "
            "You can withdraw your consent at any time, and you have the right to access, "
            "correct and erase your data and to object. The full privacy notice is at "
            "{portal}. At any time, press 3 to receive the link by SMS, or 9 to never be "
            "called again."
        ),
        question="Question {n} of {count}: {title}. {description} Press 1 for yes, 2 for no.",
        recorded={"1": "Recorded: yes.", "2": "Recorded: no."},
        closing=(
            "Thank you: your choices have been recorded. You can change them or withdraw "
            "your consent at any time by calling this number back, at {portal} or from the "
            "link in our messages. Goodbye."
        ),
        texted="We will text you a link to see and change your choices.",
        no_input="No key pressed: nothing has been recorded for this question. Goodbye.",
        machine=(
            "Hello, we called on behalf of {controller} about your privacy choices: "
            "you can confirm or refuse them at {portal}. Nothing is recorded from this "
            "message. Goodbye."
        ),
        answers={
            "3": "We will shortly send you an SMS with the link to choose. Goodbye.",
            "9": "We will not call you again with offers, and your consent to calls is "
            "withdrawn. To stop e-mails and text messages too, use the link in our "
            "messages or reply STOPALL to one of our texts. Goodbye.",
        },
        invalid="Not a valid choice.",
        sms_unavailable="We cannot send an SMS to this number: nothing has been recorded. Goodbye.",
        ended="This request is no longer open: nothing has been recorded. Goodbye.",
    ),
}


@dataclass(frozen=True)
class Voice:
    """How a call speaks: the page a person can visit, and the TTS voice per language."""

    portal: str  # spoken as is, e.g. "consensi.example.it/privacy"
    voices: Mapping[str, str]

    def of(self, phrases: _Phrases) -> str | None:
        return self.of_language(phrases.language[:2])

    def of_language(self, language: str) -> str | None:
        """The TTS voice for ``language`` ("it", "en"): configured, else the default."""
        return self.voices.get(language) or DEFAULT_VOICES.get(language)


def spoken_portal(portal_base_url: str) -> str:
    """The portal's page for people who got a call, as said aloud: host and ``/privacy``."""
    parts = urlsplit(portal_base_url)
    host = parts.hostname or portal_base_url
    return f"{host}{parts.path.rstrip('/')}/privacy"


def _phrases(context: MessageContext) -> _Phrases:
    return _PHRASES[resolve_language(context.locale)]


def _say(node: VoiceResponse | Gather, text: str, phrases: _Phrases, voice: Voice) -> None:
    spoken = voice.of(phrases)
    if spoken:
        node.say(text, language=phrases.language, voice=spoken)
    else:
        node.say(text, language=phrases.language)


def spoken_intro(context: MessageContext, voice: Voice) -> str:
    """What the call says before the first question (who, why, rights, the full notice)."""
    return _phrases(context).intro.format(
        controller=context.controller_name, count=len(context.purposes), portal=voice.portal
    )


def call_script(context: MessageContext, voice: Voice, audio_url: str | None) -> str:
    """Every word the call says before and with its questions, one line each: what the
    ledger keeps as the spoken notice (``reconsent.campaigns.spoken_notices``)."""
    phrases = _phrases(context)
    opening = f"[{audio_url}]" if audio_url else spoken_intro(context, voice)
    questions = [spoken_question(context, i) for i in range(len(context.purposes))]
    closing = phrases.closing.format(portal=voice.portal)
    return "\n".join([opening, *questions, closing])


def spoken_question(context: MessageContext, index: int) -> str:
    purpose: PurposeText = context.purposes[index]
    description = purpose.description.strip()
    if description and description[-1] not in ".?!":
        description += "."
    return _phrases(context).question.format(
        n=index + 1,
        count=len(context.purposes),
        title=purpose.title,
        description=description,
    )


def _ask(
    response: VoiceResponse,
    context: MessageContext,
    index: int,
    gather_url: str,
    voice: Voice,
    *,
    before: str = "",
    audio_url: str | None = None,
) -> None:
    phrases = _phrases(context)
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        action=with_question(gather_url, index),
        method="POST",
        timeout=GATHER_TIMEOUT_SECONDS,
    )
    if audio_url:
        gather.play(audio_url)
    if before:
        _say(gather, before, phrases, voice)
    _say(gather, spoken_question(context, index), phrases, voice)
    _say(response, phrases.no_input, phrases, voice)
    response.hangup()


def call_twiml(
    context: MessageContext, gather_url: str, audio_url: str | None, voice: Voice
) -> str:
    """What a person who answers hears: the spoken notice, then the first question.

    With ``audio_url`` (a recorded notice for the locale) the notice is a ``<Play>``
    of it; the questions are always read (they follow the wave's purposes).
    """
    response = VoiceResponse()
    intro = "" if audio_url else spoken_intro(context, voice)
    _ask(response, context, 0, gather_url, voice, before=intro, audio_url=audio_url)
    return str(response.to_xml())


def question_twiml(
    context: MessageContext, index: int, gather_url: str, voice: Voice, *, said: str = ""
) -> str:
    """The next question (``said``: what to say first, e.g. the last answer recorded)."""
    response = VoiceResponse()
    _ask(response, context, index, gather_url, voice, before=said)
    return str(response.to_xml())


def recorded_phrase(context: MessageContext, digit: str) -> str:
    return _phrases(context).recorded.get(digit, "")


def invalid_phrase(context: MessageContext) -> str:
    return _phrases(context).invalid


def _ending(context: MessageContext, text: str, voice: Voice) -> str:
    phrases = _phrases(context)
    response = VoiceResponse()
    _say(response, text, phrases, voice)
    response.hangup()
    return str(response.to_xml())


def closing_twiml(
    context: MessageContext, voice: Voice, *, said: str = "", texted: bool = False
) -> str:
    """After the last question: thanks, and how to change or withdraw (``texted``: an SMS
    with the link to the person's choices is on its way)."""
    phrases = _phrases(context)
    closing = phrases.closing.format(portal=voice.portal)
    if texted:
        closing = f"{phrases.texted} {closing}"
    return _ending(context, f"{said} {closing}".strip(), voice)


def machine_twiml(context: MessageContext, voice: Voice) -> str:
    """A short voicemail message: where to decide; no consent is taken from it."""
    text = _phrases(context).machine.format(controller=context.controller_name, portal=voice.portal)
    return _ending(context, text, voice)


def answer_twiml(
    context: MessageContext, digit: str, voice: Voice, *, sms_unavailable: bool = False
) -> str:
    """The end of a call on key 3 (the link by SMS) or 9 (never call again)."""
    phrases = _phrases(context)
    text = phrases.answers.get(digit.strip(), phrases.invalid)
    if sms_unavailable and digit.strip() == "3":
        text = phrases.sms_unavailable
    return _ending(context, text, voice)


def ended_twiml(context: MessageContext, voice: Voice) -> str:
    """A polite end that records nothing: the request is closed, or the person objected."""
    return _ending(context, _phrases(context).ended, voice)


def gather_url_for(voice_url: str) -> str:
    """``.../webhooks/twilio/voice?t=X`` -> ``.../webhooks/twilio/voice/gather?t=X``."""
    parts = urlsplit(voice_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("the voice URL must be absolute (scheme and host)")
    path = parts.path.rstrip("/") + "/gather"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def with_question(gather_url: str, index: int) -> str:
    """The gather URL of question ``index`` (``q`` replaces any earlier one)."""
    parts = urlsplit(gather_url)
    kept = [p for p in parts.query.split("&") if p and not p.startswith("q=")]
    query = "&".join([*kept, f"q={index}"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
