"""How long the call takes to say, read aloud by espeak-ng (Debian's, installed by
``make test``): the spoken notice of a three-purpose Italian call lasts no more than
60 s to the first question, and each question no more than 20 s.

espeak-ng reads at its default rate (175 words a minute), a little slower than
Twilio's voices; the figures it measures are printed (``pytest -s``) and kept in
the README.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import wave
from pathlib import Path

import pytest

from channels.ivr_twiml import Voice, spoken_intro, spoken_question
from reconsent.kernel.ports import MessageContext, PurposeText

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration


def _seconds(text: str, language: str, out: Path) -> float:
    subprocess.run(["espeak-ng", "-v", language, "-w", str(out), text], check=True)
    with wave.open(str(out)) as audio:
        frames, rate = audio.getnframes(), audio.getframerate()
    return float(frames) / float(rate)


def _example_call(language: str) -> MessageContext:
    """The call of the example catalog's three channel purposes, as the demo places it."""
    catalog = tomllib.loads((ROOT / "examples" / "catalog.toml").read_text())
    wanted = ("marketing_email", "marketing_sms", "marketing_phone")
    by_code = {p["code"]: p for p in catalog["purposes"]}
    purposes = tuple(
        PurposeText(
            code, by_code[code]["titles"][language], by_code[code]["descriptions"][language]
        )
        for code in wanted
    )
    return MessageContext(
        wave_name="Re-consent 2026",
        locale=language,
        controller_name="Contact Centre Demo S.r.l.",
        controller_contact="privacy@example.it",
        purposes=purposes,
        link_lifetime_days=14,
    )


@pytest.mark.parametrize("language", ["it", "en"])
def test_the_spoken_notice_and_each_question_fit_their_time(language: str, tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail(
            "espeak-ng is missing: `make test` installs it (scripts/ensure-system-packages.sh)"
        )
    context = _example_call(language)
    voice = Voice("consensi.example.it/privacy", {})
    intro = _seconds(spoken_intro(context, voice), language, tmp_path / "intro.wav")
    questions = [
        _seconds(spoken_question(context, i), language, tmp_path / f"q{i}.wav")
        for i in range(len(context.purposes))
    ]
    first = intro + questions[0]
    print(
        f"\n{language}: notice {intro:.1f} s, to the first question's end {first:.1f} s, "
        f"questions {', '.join(f'{q:.1f} s' for q in questions)}"
    )
    assert intro <= 60.0
    assert all(q <= 20.0 for q in questions)
