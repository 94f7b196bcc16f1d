from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconsent.kernel.errors import ChannelConfigError, ConfigError
from reconsent.kernel.ports import SendOutcome
from reconsent.kernel.rules.provider_answers import (
    EmailEvent,
    classify_sendgrid,
    classify_sendgrid_event,
    classify_twilio,
    parse_retry_after,
)
from reconsent.kernel.vocab import SuppressionReason

P, T, S = SendOutcome.PERMANENT, SendOutcome.TRANSIENT, SendOutcome.SENT


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        *[(400, code, P) for code in (21211, 21610, 21612, 21614, 21635, 30005, 30006)],
        *[(None, code, P) for code in (21610, 30005, 30006)],  # status callbacks
        (404, 21211, P),
        *[(400, code, T) for code in (30001, 30003, 30008)],
        *[(None, code, T) for code in (30001, 30003, 30008)],
        (429, 20429, T),
        (429, None, T),
        (500, 20500, T),
        (502, None, T),
        (503, None, T),
        (None, None, T),  # timeout / connection refused
        (201, None, S),
        (200, None, S),
        (400, 21999, P),  # an unknown per-message 4xx
        (400, None, P),
        (500, 21211, P),  # a known code decides before the status
    ],
)
def test_classify_twilio(status: int | None, code: int | None, outcome: SendOutcome) -> None:
    assert classify_twilio(status, code) is outcome


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, 20003), (401, None), (403, None), (404, 20404), (400, 21212), (400, 21606)],
)
def test_twilio_account_faults_are_config_errors(status: int, code: int | None) -> None:
    with pytest.raises(ChannelConfigError) as info:
        classify_twilio(status, code)
    assert isinstance(info.value, ConfigError)
    assert (info.value.provider, info.value.status, info.value.code) == ("twilio", status, code)
    assert "RECONSENT_TWILIO_AUTH_TOKEN" in str(info.value)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(202, S), (200, S), (429, T), (500, T), (503, T), (None, T), (400, P), (413, P), (404, P)],
)
def test_classify_sendgrid(status: int | None, outcome: SendOutcome) -> None:
    assert classify_sendgrid(status) is outcome


@pytest.mark.parametrize("status", [401, 403])
def test_sendgrid_refusing_the_key_is_a_config_error(status: int) -> None:
    with pytest.raises(ChannelConfigError, match="RECONSENT_SENDGRID_API_KEY") as info:
        classify_sendgrid(status)
    assert info.value.status == status and info.value.provider == "sendgrid"


@pytest.mark.parametrize(
    ("name", "bounce_type", "event", "outcome", "suppression"),
    [
        ("processed", None, EmailEvent.ACCEPTED, S, None),
        ("delivered", None, EmailEvent.DELIVERED, S, None),
        ("deferred", None, EmailEvent.DEFERRED, T, None),
        ("bounce", "bounce", EmailEvent.BOUNCED, P, SuppressionReason.BOUNCE),
        ("bounce", "blocked", EmailEvent.BLOCKED, T, None),
        ("dropped", None, EmailEvent.DROPPED, P, SuppressionReason.INVALID_ADDRESS),
        ("open", None, EmailEvent.ENGAGED, None, None),
        ("click", None, EmailEvent.ENGAGED, None, None),
        ("spamreport", None, EmailEvent.COMPLAINED, None, SuppressionReason.SPAM_REPORT),
        ("unsubscribe", None, EmailEvent.UNSUBSCRIBED, None, SuppressionReason.UNSUBSCRIBE),
        ("group_unsubscribe", None, EmailEvent.UNSUBSCRIBED, None, SuppressionReason.UNSUBSCRIBE),
        ("group_resubscribe", None, EmailEvent.RESUBSCRIBED, None, None),
        ("Delivered ", None, EmailEvent.DELIVERED, S, None),
        ("something_new", None, EmailEvent.UNKNOWN, None, None),
    ],
)
def test_classify_sendgrid_event(
    name: str,
    bounce_type: str | None,
    event: EmailEvent,
    outcome: SendOutcome | None,
    suppression: SuppressionReason | None,
) -> None:
    classified = classify_sendgrid_event(name, bounce_type)
    assert classified is event
    assert classified.outcome is outcome and classified.suppression is suppression


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Tue, 01 Dec 2026 10:00:30 GMT", 30.0),
        ("Tue, 01 Dec 2026 09:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds
