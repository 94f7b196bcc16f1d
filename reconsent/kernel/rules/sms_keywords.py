"""What an inbound SMS reply asks for: stop, start again, help, or nothing we know.

Only the first word counts, compared without case, surrounding spaces or
punctuation (``" Stop."``, ``"stop please"`` and ``"OPT-OUT"`` all stop).  The
English words are Twilio's opt-out / opt-in / help keywords; the Italian ones
are what Italian recipients actually write.  Nothing here is ever consent: a
reply of "SI" or "YES" is ``OTHER`` and gets the help answer.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "HELP_WORDS",
    "START_WORDS",
    "STOP_ALL_WORDS",
    "STOP_WORDS",
    "SmsKeyword",
    "first_word",
    "parse_reply",
]


class SmsKeyword(StrEnum):
    STOP = "stop"  # stop SMS: the SMS purposes withdrawn, the number suppressed for SMS
    STOP_ALL = "stop_all"  # never contact me: an objection on every channel
    START = "start"  # the number may be messaged again; never consent
    HELP = "help"  # the help answer
    OTHER = "other"  # anything else: the help answer too


#: "Never contact me" by any channel (art. 21 objection), not just "no more SMS".
STOP_ALL_WORDS = frozenset({"STOPALL", "STOPTUTTO"})
STOP_WORDS = frozenset(
    {
        "STOP",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "ANNULLA",
        "BASTA",
        "CANCELLA",
        "DISISCRIVI",
    }
)
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO", "AIUTO"})


def first_word(body: str) -> str:
    """The first word, upper-cased, keeping letters and digits only (``"opt-out!"`` -> OPTOUT)."""
    words = body.split()
    if not words:
        return ""
    return "".join(ch for ch in words[0] if ch.isalnum()).upper()


def parse_reply(body: str) -> SmsKeyword:
    word = first_word(body)
    if word in STOP_ALL_WORDS:
        return SmsKeyword.STOP_ALL
    if word in STOP_WORDS:
        return SmsKeyword.STOP
    if word in START_WORDS:
        return SmsKeyword.START
    if word in HELP_WORDS:
        return SmsKeyword.HELP
    return SmsKeyword.OTHER
