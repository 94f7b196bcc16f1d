"""Pure parts of recording a decision and of the portal: no database, no network."""

from __future__ import annotations

import pytest

from consent_portal.decision_posts import explicit_choices
from consent_portal.i18n import STRINGS, choose_locale, texts
from consent_portal.security import CsrfTokens
from consent_portal.twilio_requests import is_machine
from reconsent.campaigns.notices import localized
from reconsent.kernel.errors import DecisionError
from reconsent.kernel.locales import language_of
from reconsent.ledger.decisions import decision_dedupe_key, validate_choices

CODES = ["marketing_email", "marketing_sms"]


def test_silence_is_never_consent() -> None:
    with pytest.raises(DecisionError, match="no explicit choice"):
        validate_choices({}, CODES)


def test_only_the_waves_purposes_can_be_answered() -> None:
    with pytest.raises(DecisionError, match="profiling"):
        validate_choices({"profiling": True}, CODES)


def test_choices_come_back_in_the_waves_order() -> None:
    assert list(validate_choices({"marketing_sms": False, "marketing_email": True}, CODES)) == CODES


def test_dedupe_key_is_per_nonce_and_purpose() -> None:
    key = decision_dedupe_key("nonce", "marketing_email")
    assert len(key) == 64
    assert key == decision_dedupe_key("nonce", "marketing_email")
    assert key != decision_dedupe_key("nonce", "marketing_sms")
    assert key != decision_dedupe_key("other", "marketing_email")


def test_only_explicit_unambiguous_yes_or_no_counts() -> None:
    fields = {
        "p.marketing_email": ["yes"],
        "p.marketing_sms": ["yes", "no"],  # both radios forged into one post: ambiguous
        "p.profiling": ["no"],  # not asked by this wave
        "marketing_email": ["no"],
    }
    assert explicit_choices(fields, CODES) == {"marketing_email": True}
    assert explicit_choices({"p.marketing_sms": ["on"]}, CODES) == {}
    assert explicit_choices({"p.marketing_sms": ["no", "no"]}, CODES) == {"marketing_sms": False}


@pytest.mark.parametrize(
    ("requested", "contact", "accept", "expected"),
    [
        ("en", "it", None, "en"),
        (None, "it-IT", None, "it"),
        ("fr", "en_GB", None, "en"),
        (None, None, "fr-FR,it;q=0.8,en;q=0.5", "it"),
        (None, "de", None, "en"),
    ],
)
def test_locale_is_the_query_then_the_contact_then_the_browser(
    requested: str | None, contact: str | None, accept: str | None, expected: str
) -> None:
    assert choose_locale(requested, contact, accept) == expected


def test_every_string_exists_in_every_language() -> None:
    assert set(STRINGS["it"]) == set(STRINGS["en"])
    assert texts("de")["save"] == "Save my choices"
    assert texts("it")["refuse_all"] == "Rifiuta tutto"


def test_csrf_token_binds_the_link_the_nonce_and_the_language() -> None:
    tokens = CsrfTokens(["k1", "k2"])
    grant, signed = tokens.issue("token-a", "it")
    assert tokens.check("token-a", signed, grant.nonce) == grant
    assert tokens.check("token-b", signed, grant.nonce) is None
    assert tokens.check("token-a", signed, "another-nonce") is None
    assert tokens.check("token-a", signed + "x", grant.nonce) is None
    assert CsrfTokens(["k1"]).check("token-a", signed, grant.nonce) is None
    # The language is signed too; a rotated key list (k2 now the older key) still checks.
    assert tokens.check("token-a", "en" + signed[2:], grant.nonce) is None
    assert CsrfTokens(["k2", "k3"]).check("token-a", signed, grant.nonce) == grant
    other, _ = tokens.issue("token-a", "it")
    assert other.nonce != grant.nonce


@pytest.mark.parametrize(
    ("answered_by", "machine"),
    [
        ("machine_end_beep", True),
        ("machine_start", True),
        ("fax", True),
        ("human", False),
        ("unknown", False),
        ("", False),
    ],
)
def test_answering_machines_and_faxes_get_the_voicemail(answered_by: str, machine: bool) -> None:
    assert is_machine(answered_by) is machine


def test_texts_fall_back_to_the_language_then_english_then_italian() -> None:
    assert (
        language_of("it-IT") == "it" and language_of("en_GB") == "en" and language_of(None) == "en"
    )
    assert localized({"it": "Ciao", "en": "Hello"}, "it-IT") == "Ciao"
    assert localized({"it": "Ciao", "en": "Hello"}, "de") == "Hello"
    assert localized({"it": "Ciao"}, "de") == "Ciao"
    assert localized({}, "de", default="code") == "code"
