"""Pure rendering of re-consent messages: email (text + HTML), SMS, segment counting.

Templates live in ``channels/templates/<locale>/`` (``it`` and ``en``; any other
locale falls back to ``en``); every HTML e-mail shares the markup of
``channels/templates/email_layout.html`` (fluid, inline styles) and fills in its
words.  The Jinja environment is built on first use, autoescapes ``.html``
templates and refuses undefined variables.

Email comes in two shapes that must agree:

* :func:`render_email` renders one message whole (the file outbox);
* :func:`render_email_template` renders one body per :class:`MessageContext`
  with substitution tags (``-greeting-``, ``-link-``, ``-optout-`` and their
  ``_html`` twins, already HTML-escaped) and :func:`email_substitutions` gives
  one message's values, so SendGrid renders per recipient without a Jinja call
  per message.  ``apply_substitutions(render_email_template(ctx),
  email_substitutions(msg)) == render_email(msg)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from reconsent.kernel.errors import SmsTooLongError
from reconsent.kernel.locales import resolve_language
from reconsent.kernel.ports import MessageContext, OutboundMessage
from reconsent.kernel.vocab import RequestBasis

__all__ = [
    "DEFAULT_SMS_MAX_SEGMENTS",
    "RenderedEmail",
    "SmsEncoding",
    "apply_substitutions",
    "email_substitutions",
    "environment",
    "greeting_for",
    "render_email",
    "render_email_template",
    "render_sms",
    "sms_segments",
]

DEFAULT_SMS_MAX_SEGMENTS = 3
TEMPLATE_DIR = Path(__file__).parent / "templates"

#: Per-recipient substitution tags: plain (text part) and HTML-escaped (HTML part).
TEXT_TAGS = {"greeting": "-greeting-", "link": "-link-", "optout_link": "-optout-"}
HTML_TAGS = {
    "greeting": "-greeting_html-",
    "link": "-link_html-",
    "optout_link": "-optout_html-",
}
#: A one-time code message's only per-recipient value (digits: the same in both parts).
CODE_TAGS = {"code": "-code-"}

_GREETINGS = {
    "it": ("Gentile {name},", "Gentile cliente,"),
    "en": ("Hello {name},", "Hello,"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@cache
def environment() -> Environment:
    """The templates' Jinja environment, built once on first use."""
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def greeting_for(locale: str, name: str | None) -> str:
    named, anonymous = _GREETINGS[resolve_language(locale)]
    clean = name.strip() if name else ""
    return named.format(name=clean) if clean else anonymous


# --- email ----------------------------------------------------------------------------------


def _context_vars(context: MessageContext, locale: str) -> dict[str, Any]:
    return {
        "controller_name": context.controller_name,
        "controller_contact": context.controller_contact,
        "purposes": context.purposes,
        "link_lifetime_days": context.link_lifetime_days,
        "html_lang": locale,
        # A person asked under a declared basis (soft spam) never gave these consents:
        # the message asks for new ones and never claims a prior one.
        "asks_new": context.basis is RequestBasis.DECLARED,
    }


def _render_email(
    context: MessageContext, text_values: Mapping[str, str], html_values: Mapping[str, Any]
) -> RenderedEmail:
    env = environment()
    locale = resolve_language(context.locale)
    common = _context_vars(context, locale)
    # A one-time code message has its own short templates (code_email*).
    name = "code_email" if context.verification else "email"
    # The code message's subject carries its code (the ``-code-`` tag for SendGrid).
    subject = env.get_template(f"{locale}/{name}_subject.txt").render(common, **text_values)
    subject = subject.strip()
    text = env.get_template(f"{locale}/{name}.txt").render(common, **text_values)
    html = env.get_template(f"{locale}/{name}.html").render(common, subject=subject, **html_values)
    return RenderedEmail(subject=subject, text=text, html=html)


def render_email(msg: OutboundMessage) -> RenderedEmail:
    """One message rendered whole (values HTML-escaped in the HTML part by autoescape)."""
    if msg.notice is not None:
        return RenderedEmail(msg.notice.subject, msg.notice.text, msg.notice.html)
    values = {
        "greeting": greeting_for(msg.context.locale, msg.to_name),
        "link": msg.link,
        "optout_link": msg.optout_link,
    }
    if msg.context.verification:
        values = {"code": msg.code or ""}
    return _render_email(msg.context, values, values)


@lru_cache(maxsize=256)
def render_email_template(context: MessageContext) -> RenderedEmail:
    """One body per context, with substitution tags where per-recipient values go."""
    if context.verification:
        return _render_email(context, CODE_TAGS, CODE_TAGS)
    html_tags = {name: Markup(tag) for name, tag in HTML_TAGS.items()}  # noqa: S704 - constant tags
    return _render_email(context, TEXT_TAGS, html_tags)


def email_substitutions(msg: OutboundMessage) -> dict[str, str]:
    """The per-recipient values for :func:`render_email_template`'s tags."""
    if msg.context.verification:
        return {CODE_TAGS["code"]: msg.code or ""}
    greeting = greeting_for(msg.context.locale, msg.to_name)
    return {
        "-greeting-": greeting,
        "-link-": msg.link,
        "-optout-": msg.optout_link,
        "-greeting_html-": _escaped(greeting),
        "-link_html-": _escaped(msg.link),
        "-optout_html-": _escaped(msg.optout_link),
    }


_HTML_SPECIAL = re.compile("[&<>\"']")


def _escaped(text: str) -> str:
    """``markupsafe.escape`` as a plain string; most values (signed links, most names)
    have nothing to escape and are returned as they are."""
    return str(escape(text)) if _HTML_SPECIAL.search(text) else text


def apply_substitutions(email: RenderedEmail, substitutions: Mapping[str, str]) -> RenderedEmail:
    """What the provider does: replace each tag, in one pass (values are never re-scanned)."""
    if not substitutions:
        return email
    pattern = re.compile("|".join(re.escape(tag) for tag in sorted(substitutions, key=len)[::-1]))

    def sub(text: str) -> str:
        return pattern.sub(lambda match: substitutions[match.group(0)], text)

    return RenderedEmail(sub(email.subject), sub(email.text), sub(email.html))


# --- SMS ------------------------------------------------------------------------------------

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def _pack(costs: list[int], single: int, multi: int) -> int:
    """Segments needed for units of the given sizes; a unit never straddles two segments."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_segments(text: str) -> tuple[SmsEncoding, int]:
    """Encoding and segment count: GSM-7 160/153 (extension chars cost 2), else UCS-2 70/67."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        costs = [2 if ch in _GSM_EXTENSION else 1 for ch in text]
        return SmsEncoding.GSM7, _pack(costs, 160, 153)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # UTF-16 code units
    return SmsEncoding.UCS2, _pack(costs, 70, 67)


def render_sms(msg: OutboundMessage, max_segments: int = DEFAULT_SMS_MAX_SEGMENTS) -> str:
    """The SMS text, with the link and an opt-out link (alphanumeric senders get no replies).

    Falls back to a shorter wording when the full one needs more than
    ``max_segments``; raises :class:`SmsTooLongError` when neither fits.  A service
    notice is sent as it was rendered (it carries its reasons, which are not shortened).
    """
    if msg.notice is not None:
        return msg.notice.sms
    env = environment()
    locale = resolve_language(msg.context.locale)
    values = {
        **_context_vars(msg.context, locale),
        "link": msg.link,
        "optout_link": msg.optout_link,
        "code": msg.code or "",
    }
    needed = 0
    names: tuple[str, ...] = ("sms.txt", "sms_short.txt")
    if msg.context.verification:
        names = ("sms_code.txt",)
    elif msg.context.confirmation:
        names = ("sms_confirm.txt",)
    for name in names:
        text = " ".join(env.get_template(f"{locale}/{name}").render(values).split())
        _, needed = sms_segments(text)
        if needed <= max_segments:
            return text
    raise SmsTooLongError(
        f"the {locale} SMS needs {needed} segments, more than the allowed {max_segments}: "
        "shorten the controller name or raise RECONSENT_SMS_MAX_SEGMENTS",
        segments=needed,
        max_segments=max_segments,
    )
