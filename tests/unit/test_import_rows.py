"""Row parsing and validation of the CSV imports: pure functions, no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from reconsent.imports.csvfile import check_header
from reconsent.imports.rows import (
    CONSENT_COLUMNS,
    CONSENT_OPTIONAL_COLUMNS,
    CONTACT_COLUMNS,
    parse_captured_at,
    parse_consent_row,
    parse_contact_row,
    parse_locale,
    parse_suppression_row,
    parse_timezone,
)
from reconsent.kernel.errors import ConfigError, InvalidRowError
from reconsent.kernel.vocab import AddressKind, Channel, ConsentState, SuppressionReason

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def contact(**overrides: str) -> dict[str, str]:
    row = {
        "external_id": " CRM-1 ",
        "given_name": " Niccolò ",
        "family_name": "D'Amico",
        "email": " Niccolo.DAmico@Example.IT ",
        "phone": "333 123 4567",
        "locale": "it",
        "timezone": "Europe/Rome",
    }
    row.update(overrides)
    return row


def consent(**overrides: str) -> dict[str, str]:
    row = {
        "external_id": "CRM-1",
        "purpose": "marketing_email",
        "state": "given",
        "captured_at": "2025-03-04T10:15:00+01:00",
        "notice_version": "2026-09",
        "channel": "email",
        "source": "salesforce",
        "evidence_ref": "webform-42",
    }
    row.update(overrides)
    return row


def reason(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidRowError) as info:
        call()
    return str(info.value)


# --- header -------------------------------------------------------------------------------


def test_header_accepts_any_order_and_case() -> None:
    found = [" Timezone", *reversed(CONTACT_COLUMNS[:-1])]
    assert check_header(found, CONTACT_COLUMNS)[0] == "timezone"


def test_header_names_missing_extra_and_repeated_columns() -> None:
    with pytest.raises(ConfigError) as info:
        check_header(["external_id", "email", "email", "crm_notes", "mobile"], CONTACT_COLUMNS)
    message = str(info.value)
    assert "missing column(s): given_name, family_name, phone, locale, timezone" in message
    assert "unexpected column(s): crm_notes, mobile" in message
    assert "repeated column(s): email" in message


def test_header_optional_column_is_optional() -> None:
    assert check_header(CONSENT_COLUMNS, CONSENT_COLUMNS, CONSENT_OPTIONAL_COLUMNS)
    names = check_header(
        [*CONSENT_COLUMNS, "evidence_ref"], CONSENT_COLUMNS, CONSENT_OPTIONAL_COLUMNS
    )
    assert names[-1] == "evidence_ref"


# --- contacts -----------------------------------------------------------------------------


def test_contact_row_is_normalised() -> None:
    row = parse_contact_row(contact())
    assert row.external_id == "CRM-1"
    assert row.given_name == "Niccolò"
    assert row.email == "niccolo.damico@example.it"
    assert row.phone == "+393331234567"
    assert (row.locale, row.timezone) == ("it", "Europe/Rome")


def test_contact_phone_is_read_in_the_locale_region() -> None:
    row = parse_contact_row(contact(phone="07400 123456", locale="en-GB", timezone="europe/london"))
    assert row.phone == "+447400123456"
    assert (row.locale, row.timezone) == ("en", "Europe/London")


def test_contact_empty_optional_fields_become_none() -> None:
    row = parse_contact_row(contact(email=" ", phone="", given_name="", family_name=""))
    assert (row.email, row.phone, row.given_name, row.family_name) == (None, None, None, None)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"external_id": "  "}, "external_id is required"),
        ({"external_id": "x" * 129}, "external_id is longer than 128 characters"),
        ({"locale": ""}, "locale is required"),
        ({"locale": "de-DE"}, "unsupported locale 'de-DE' (supported: en, it)"),
        ({"timezone": "Europe/Atlantis"}, "unknown timezone 'Europe/Atlantis'"),
        ({"timezone": "../etc/passwd"}, "unknown timezone"),
        ({"timezone": ""}, "timezone is required"),
        ({"given_name": "G" * 201}, "given_name is longer than 200 characters"),
    ],
)
def test_contact_row_errors(overrides: dict[str, str], expected: str) -> None:
    assert expected in reason(lambda: parse_contact_row(contact(**overrides)))


@pytest.mark.parametrize("email", ["giulia.rossi@@example.it", "giulia rossi@example.it"])
def test_invalid_email_reason_never_quotes_the_address(email: str) -> None:
    message = reason(lambda: parse_contact_row(contact(email=email)))
    assert message.startswith("invalid email:")
    assert "giulia" not in message and "example.it" not in message


@pytest.mark.parametrize("phone", ["333 12", "+44 7700 900123", "not a number"])
def test_invalid_phone_reason_never_quotes_the_number(phone: str) -> None:
    message = reason(lambda: parse_contact_row(contact(phone=phone)))
    assert message.startswith("invalid phone number")
    assert phone not in message and "7700" not in message


# --- consents -----------------------------------------------------------------------------


def test_consent_row_is_typed_and_utc() -> None:
    row = parse_consent_row(consent(purpose=" Marketing_Email ", state="GIVEN"), NOW)
    assert row.purpose == "marketing_email"
    assert row.state is ConsentState.GIVEN
    assert row.captured_at == datetime(2025, 3, 4, 9, 15, tzinfo=UTC)
    assert row.channel is Channel.EMAIL
    assert (row.notice_version, row.source, row.evidence_ref) == (
        "2026-09",
        "salesforce",
        "webform-42",
    )


def test_consent_optional_fields_may_be_empty_or_absent() -> None:
    values = consent(notice_version="", channel="")
    del values["evidence_ref"]
    row = parse_consent_row(values, NOW)
    assert (row.notice_version, row.channel, row.evidence_ref) == (None, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02 08:30:00", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        ("2024-01-02T08:30:00Z", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        ("2024-01-02T09:30:00+01:00", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
    ],
)
def test_captured_at_without_offset_is_utc(text: str, expected: datetime) -> None:
    assert parse_captured_at(text, NOW) == expected


def test_captured_at_may_be_now_but_not_later() -> None:
    assert parse_captured_at(NOW.isoformat(), NOW) == NOW
    later = (NOW + timedelta(seconds=1)).isoformat()
    assert (
        reason(lambda: parse_captured_at(later, NOW)) == f"captured_at {later!r} is in the future"
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"state": "maybe"}, "invalid state 'maybe' (one of given/refused/withdrawn)"),
        ({"state": "expired"}, "invalid state 'expired'"),
        ({"captured_at": "04/03/2025"}, "invalid captured_at '04/03/2025'"),
        ({"captured_at": ""}, "captured_at is required"),
        ({"purpose": ""}, "purpose is required"),
        ({"purpose": "drop table;"}, "unknown purpose 'drop table;'"),
        ({"channel": "fax"}, "invalid channel 'fax' (one of email/sms/ivr)"),
        ({"source": " "}, "source is required"),
        ({"notice_version": "v" * 33}, "notice_version is longer than 32 characters"),
        ({"external_id": ""}, "external_id is required"),
    ],
)
def test_consent_row_errors(overrides: dict[str, str], expected: str) -> None:
    assert expected in reason(lambda: parse_consent_row(consent(**overrides), NOW))


def test_dedupe_key_depends_on_the_fact_not_its_spelling() -> None:
    a = parse_consent_row(consent(captured_at="2024-01-02"), NOW)
    b = parse_consent_row(
        consent(captured_at="2024-01-02T00:00:00Z", state=" Given ", channel="EMAIL"), NOW
    )
    assert a.dedupe_key == b.dedupe_key and len(a.dedupe_key) == 64
    for field, value in [
        ("state", "refused"),
        ("captured_at", "2024-01-03"),
        ("source", "hubspot"),
        ("evidence_ref", ""),
        ("notice_version", "2024-01"),
        ("purpose", "marketing_sms"),
    ]:
        values = consent(captured_at="2024-01-02")
        values[field] = value
        other = parse_consent_row(values, NOW)
        assert other.dedupe_key != a.dedupe_key, field


# --- suppressions -------------------------------------------------------------------------


def test_suppression_row_email_and_phone() -> None:
    row = parse_suppression_row(
        {
            "address": "Mario@Example.IT",
            "channel": "email",
            "reason": "bounce",
            "source": "old-esp",
        },
        "IT",
    )
    assert (row.kind, row.address, row.channel) == (
        AddressKind.EMAIL,
        "mario@example.it",
        Channel.EMAIL,
    )
    assert row.reason is SuppressionReason.BOUNCE
    row = parse_suppression_row(
        {"address": "333 123 4567", "channel": "ALL", "reason": "rpo", "source": "rpo-2026-11"},
        "IT",
    )
    assert (row.kind, row.address, row.channel) == (AddressKind.PHONE, "+393331234567", None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"address": "mario@example.it", "channel": "sms"},
            "an email address cannot be suppressed on channel sms",
        ),
        (
            {"address": "+393331234567", "channel": "email"},
            "a phone number cannot be suppressed on channel email",
        ),
        ({"channel": ""}, "invalid channel '' (one of email/sms/ivr/all)"),
        ({"reason": "dislike"}, "unknown reason 'dislike' (one of: objection, erasure"),
        ({"address": ""}, "address is required"),
        ({"source": ""}, "source is required"),
    ],
)
def test_suppression_row_errors(values: dict[str, str], expected: str) -> None:
    row = {"address": "+393331234567", "channel": "sms", "reason": "rpo", "source": "rpo"}
    row.update(values)
    assert expected in reason(lambda: parse_suppression_row(row, "IT"))


def test_locale_and_timezone_helpers() -> None:
    assert [parse_locale(v) for v in ("IT", "it_IT", "en-US", "en")] == ["it", "it", "en", "en"]
    assert parse_timezone("UTC") == "UTC"
    assert parse_timezone(" america/new_york ") == "America/New_York"


def test_customer_and_contract_columns_are_optional_and_checked() -> None:
    from reconsent.imports.rows import parse_contact_row

    base = {
        "external_id": "A1", "given_name": "", "family_name": "", "email": "a@example.it",
        "phone": "", "locale": "it", "timezone": "Europe/Rome",
    }  # fmt: skip
    plain = parse_contact_row(base)
    assert (plain.customer_column, plain.contract_exempt) == (False, None)
    row = parse_contact_row({**base, "customer_since": "2024-05-31", "contract_exempt": "Sì"})
    assert (str(row.customer_since), row.contract_exempt) == ("2024-05-31", True)
    with pytest.raises(InvalidRowError, match="contract_exempt"):
        parse_contact_row({**base, "contract_exempt": "perhaps"})
    with pytest.raises(InvalidRowError, match="customer_since"):
        parse_contact_row({**base, "customer_since": "yesterday"})
