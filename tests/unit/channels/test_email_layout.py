"""The e-mail's shape: fluid, who and why first, worded by basis, text and HTML in step.

How it looks at 375 and 600 px is measured in Chromium (tests/browser/test_email_browser.py).
"""

from __future__ import annotations

import html
import re

import pytest

from channels.message_render import RenderedEmail, render_email
from reconsent.kernel.vocab import RequestBasis
from tests.support.messages import ASKED_FOR, CONTROLLER, MakeMessage, make_context

#: Words that claim a prior consent: never said to a person asked under soft spam.
CLAIMS_A_PRIOR_CONSENT = {"it": ("ci aveva dato", "confermare"), "en": ("you gave", "confirm")}
CASES = sorted(ASKED_FOR, key=str)
#: The button, the way out, the contact line, per language.
STEPS = {
    "it": ("Rivedi le mie scelte", "Non contattatemi più", "Per domande sul trattamento"),
    "en": ("Review my choices", "Stop contacting me", "Questions about how we use"),
}


def _email(make_message: MakeMessage, locale: str, basis: RequestBasis) -> RenderedEmail:
    return render_email(make_message(locale=locale, context=make_context(locale, basis=basis)))


def _visible(markup: str) -> str:
    """The words a reader sees, in order (the hidden preheader and the head left out)."""
    body = markup.split("<body", 1)[1].split(">", 1)[1]
    body = re.sub(r'<div style="display:none;.*?</div>', " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _preheader(markup: str) -> str:
    match = re.search(r'<div style="display:none;[^"]*">(.*?)</div>', markup, flags=re.S)
    assert match, "no preheader"
    return html.unescape(match.group(1))


@pytest.mark.parametrize(("locale", "basis"), CASES)
def test_the_layout_is_fluid_with_no_fixed_width(
    make_message: MakeMessage, locale: str, basis: RequestBasis
) -> None:
    markup = _email(make_message, locale, basis).html
    assert re.findall(r'\bwidth="(?!100%)[^"]*"', markup) == []
    assert re.findall(r"(?<![-\w])(?:min-)?width:\s*\d+px", markup) == []
    assert "max-width:600px" in markup and 'width="100%"' in markup
    assert "<img" not in markup and "<style" not in markup and "<script" not in markup
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in markup


@pytest.mark.parametrize(("locale", "basis"), CASES)
def test_the_first_lines_say_who_writes_and_why(
    make_message: MakeMessage, locale: str, basis: RequestBasis
) -> None:
    email = _email(make_message, locale, basis)
    who, why = CONTROLLER, ASKED_FOR[locale, basis]
    preheader = _preheader(email.html)
    # The preheader (what an inbox shows beside the subject) opens the body...
    assert re.search(r'<body [^>]*>\s*<div style="display:none;', email.html)
    assert preheader.startswith(who) and " ".join(why.split()[-4:]) in preheader
    assert "Anna" not in preheader and "Gentile" not in preheader  # no personal data in it
    # ...and the visible text opens with the controller, the greeting and the reason.
    visible = _visible(email.html)
    assert visible.startswith(f"{who} {'Gentile' if locale == 'it' else 'Hello'} Anna,")
    assert who in visible[:60] and why in visible[:200]


@pytest.mark.parametrize(("locale", "basis"), CASES)
def test_the_wording_follows_the_basis(
    make_message: MakeMessage, locale: str, basis: RequestBasis
) -> None:
    email = _email(make_message, locale, basis)
    every_part = " ".join((email.subject, _preheader(email.html), _visible(email.html), email.text))
    if basis is RequestBasis.DECLARED:  # soft spam: a new consent, never "the one you gave"
        assert not any(claim in every_part for claim in CLAIMS_A_PRIOR_CONSENT[locale])
    else:
        assert all(claim in every_part for claim in CLAIMS_A_PRIOR_CONSENT[locale])


@pytest.mark.parametrize(("locale", "basis"), CASES)
def test_both_parts_say_the_same_in_the_same_order(
    make_message: MakeMessage, locale: str, basis: RequestBasis
) -> None:
    """Who and why, the purposes, the button (the link), the way out, the contact."""
    msg = make_message(locale=locale, context=make_context(locale, basis=basis))
    email = render_email(msg)
    paragraphs = email.text.split("\n\n")
    reason = paragraphs[1]
    assert paragraphs[0] == ("Gentile Anna," if locale == "it" else "Hello Anna,")
    assert reason.startswith(CONTROLLER) and ASKED_FOR[locale, basis] in reason
    button, optout, contact = STEPS[locale]
    visible = _visible(email.html)
    in_html = [reason, "Profil", button, optout, contact]
    in_text = [reason, "Profil", f"\n{msg.link}\n", f"\n{msg.optout_link}\n", contact]
    for part, steps in ((visible, in_html), (email.text, in_text)):
        positions = [part.index(step) for step in steps]
        assert positions == sorted(positions), part
