"""Inbound SMS keywords: first word, any case, spaces and punctuation ignored."""

from __future__ import annotations

import pytest

from reconsent.kernel.rules.sms_keywords import SmsKeyword, first_word, parse_reply


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "  Stop.  ",
        "stop please, no more",
        "Unsubscribe",
        "cancel",
        "END",
        "quit!",
        "revoke",
        "OPTOUT",
        "opt-out",
        "ANNULLA",
        "basta grazie",
        "Cancella",
        "disiscrivi",
        "\nBASTA\n",
    ],
)
def test_stop_family(body: str) -> None:
    assert parse_reply(body) is SmsKeyword.STOP


@pytest.mark.parametrize("body", ["STOPALL", "stopall!", "StopTutto"])
def test_stop_all_is_a_full_objection(body: str) -> None:
    assert parse_reply(body) is SmsKeyword.STOP_ALL


@pytest.mark.parametrize("body", ["START", "start", " Unstop "])
def test_start_family(body: str) -> None:
    assert parse_reply(body) is SmsKeyword.START


@pytest.mark.parametrize("body", ["HELP", "info?", "Aiuto"])
def test_help_family(body: str) -> None:
    assert parse_reply(body) is SmsKeyword.HELP


@pytest.mark.parametrize(
    "body",
    ["", "   ", "YES", "si", "Sì, acconsento", "please stop", "nonstop", "STOP2", "STARTED"],
)
def test_anything_else_is_other_and_never_consent(body: str) -> None:
    assert parse_reply(body) is SmsKeyword.OTHER


def test_first_word_keeps_letters_and_digits_only() -> None:
    assert first_word("  opt-out! now") == "OPTOUT"
    assert first_word("") == ""
