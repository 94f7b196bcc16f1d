"""What a provider's delivery report means for an attempt.

See reconsent.kernel.rules.delivery_outcomes.
"""

from __future__ import annotations

import pytest

from reconsent.kernel.rules.delivery_outcomes import (
    DeliveryEffect,
    is_final,
    sendgrid_event_verdict,
    twilio_call_verdict,
    twilio_message_verdict,
)
from reconsent.kernel.vocab import SuppressionReason

E = DeliveryEffect


@pytest.mark.parametrize(
    ("status", "code", "effect", "suppression"),
    [
        ("queued", None, E.PROGRESS, None),
        ("sending", None, E.PROGRESS, None),
        ("sent", None, E.PROGRESS, None),
        ("delivered", None, E.DELIVERED, None),
        ("read", None, E.DELIVERED, None),
        ("undelivered", "21610", E.FAILED, SuppressionReason.INVALID_ADDRESS),
        ("failed", "21211", E.FAILED, SuppressionReason.INVALID_ADDRESS),
        ("undelivered", "30006", E.FAILED, SuppressionReason.INVALID_ADDRESS),
        ("undelivered", "30003", E.RETRY, None),
        ("failed", "30008", E.RETRY, None),
        ("undelivered", None, E.RETRY, None),
        ("failed", "21606", E.NOT_REACHED, None),  # our sender is at fault, not the person
        ("canceled", None, E.NOT_REACHED, None),
        ("Delivered", None, E.DELIVERED, None),
        ("teleported", None, E.IGNORED, None),
    ],
)
def test_twilio_message_statuses(
    status: str, code: str | None, effect: DeliveryEffect, suppression: SuppressionReason | None
) -> None:
    verdict = twilio_message_verdict(status, code)
    assert (verdict.effect, verdict.suppression) == (effect, suppression)
    assert verdict.status == status.lower()
    if effect in (E.FAILED, E.RETRY) and code:
        assert verdict.error_code == code  # the provider's code is kept


@pytest.mark.parametrize(
    ("status", "code", "effect", "suppression"),
    [
        ("initiated", None, E.PROGRESS, None),
        ("ringing", None, E.PROGRESS, None),
        ("in-progress", None, E.PROGRESS, None),
        ("completed", None, E.DELIVERED, None),
        ("no-answer", None, E.NOT_REACHED, None),
        ("busy", None, E.NOT_REACHED, None),
        ("canceled", None, E.NOT_REACHED, None),
        ("failed", None, E.NOT_REACHED, None),
        ("failed", "21211", E.FAILED, SuppressionReason.INVALID_ADDRESS),
    ],
)
def test_twilio_call_statuses(
    status: str, code: str | None, effect: DeliveryEffect, suppression: SuppressionReason | None
) -> None:
    verdict = twilio_call_verdict(status, code)
    assert (verdict.effect, verdict.suppression) == (effect, suppression)


@pytest.mark.parametrize(
    ("event", "bounce_type", "effect", "status", "suppression"),
    [
        ("processed", None, E.PROGRESS, "processed", None),
        ("deferred", None, E.PROGRESS, "deferred", None),
        ("delivered", None, E.DELIVERED, "delivered", None),
        ("bounce", "bounce", E.FAILED, "bounce", SuppressionReason.BOUNCE),
        ("bounce", "blocked", E.RETRY, "blocked", None),
        ("dropped", None, E.FAILED, "dropped", SuppressionReason.INVALID_ADDRESS),
        ("spamreport", None, E.WITHDRAWN, "spamreport", SuppressionReason.SPAM_REPORT),
        ("unsubscribe", None, E.WITHDRAWN, "unsubscribe", SuppressionReason.UNSUBSCRIBE),
        (
            "group_unsubscribe",
            None,
            E.WITHDRAWN,
            "group_unsubscribe",
            SuppressionReason.UNSUBSCRIBE,
        ),
        ("open", None, E.IGNORED, "open", None),
        ("click", None, E.IGNORED, "click", None),
        ("group_resubscribe", None, E.IGNORED, "group_resubscribe", None),
    ],
)
def test_sendgrid_events(
    event: str,
    bounce_type: str | None,
    effect: DeliveryEffect,
    status: str,
    suppression: SuppressionReason | None,
) -> None:
    verdict = sendgrid_event_verdict(event, bounce_type, "5.1.1")
    assert (verdict.effect, verdict.status, verdict.suppression) == (effect, status, suppression)
    assert verdict.error_code == ("5.1.1" if effect in (E.FAILED, E.RETRY) else None)


def test_final_statuses_are_never_replaced_by_in_flight_ones() -> None:
    assert not is_final(None)
    assert [is_final(s) for s in ("queued", "sent", "processed", "deferred", "ringing")] == [
        False
    ] * 5
    assert all(is_final(s) for s in ("delivered", "undelivered", "bounce", "no-answer"))
    assert not twilio_message_verdict("sent").final
    assert twilio_message_verdict("delivered").final
