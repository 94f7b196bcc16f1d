"""The words of a rights notice: what became of a request, in the person's language.

Pure: :func:`render_notice` turns :class:`NoticeFacts` into a
:class:`reconsent.kernel.ports.ServiceNotice` (subject, plain text, HTML, SMS)
from the Jinja templates in ``reconsent/rights/templates/<it|en>/`` (any other
locale falls back to English). The HTML is the plain text's paragraphs,
autoescaped: one wording, two forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import ServiceNotice

__all__ = ["ACTIONS", "NoticeFacts", "render_notice"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
#: What a notice tells: the request was extended, carried out, declined, or (a
#: restriction) is about to be lifted.
ACTIONS = ("extended", "completed", "declined", "lifted")

_MONTHS_IT = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_GREETINGS = {"it": ("Gentile {name},", "Gentile cliente,"), "en": ("Hello {name},", "Hello,")}


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice says (the request's reference is its id: no personal data)."""

    action: str
    kind: str
    reference: int
    locale: str
    timezone: str
    received_at: datetime
    due_at: datetime
    controller_name: str
    controller_contact: str
    #: The supervisory authority to complain to (None: "of your country").
    authority: str | None
    reason: str | None = None
    months: int | None = None
    name: str | None = None


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _day(moment: datetime, language: str, timezone: str) -> str:
    """A date as people write it: 15/01/2027 or 15 January 2027, on the person's clock."""
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment
    months = _MONTHS_IT if language == "it" else _MONTHS_EN
    return f"{local.day} {months[local.month - 1]} {local.year}"


def _sentence(text: str | None) -> str:
    """The operator's words on one line, ending as a sentence ends."""
    words = " ".join((text or "").split())
    return words + "." if words and words[-1] not in ".!?" else words


def render_notice(facts: NoticeFacts) -> ServiceNotice:
    """The notice in the person's language; ``ValueError`` for an unknown action."""
    if facts.action not in ACTIONS:
        raise ValueError(f"unknown notice action {facts.action!r}")
    env = _environment()
    language = resolve_language(facts.locale)
    named, anonymous = _GREETINGS[language]
    name = (facts.name or "").strip()
    values = {
        "action": facts.action,
        "kind": facts.kind,
        "reference": facts.reference,
        "received": _day(facts.received_at, language, facts.timezone),
        "due": _day(facts.due_at, language, facts.timezone),
        "months": facts.months or 0,
        "reason": _sentence(facts.reason),
        "controller_name": facts.controller_name,
        "controller_contact": facts.controller_contact,
        "authority": facts.authority,
        "greeting": named.format(name=name) if name else anonymous,
    }
    subjects = env.get_template(f"{language}/words.j2").module.subjects  # type: ignore[attr-defined]
    subject = f"{subjects[facts.action]} ({facts.reference})"
    text = env.get_template(f"{language}/notice.txt").render(values).strip() + "\n"
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    html = env.get_template(f"{language}/notice.html").render(
        subject=subject, paragraphs=paragraphs
    )
    sms = " ".join(env.get_template(f"{language}/notice_sms.txt").render(values).split())
    return ServiceNotice(subject=subject, text=text, html=html, sms=sms)
