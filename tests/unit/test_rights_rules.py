"""Pure pieces of the rights centre: due dates, IP truncation, token buckets, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from consent_portal.rate_limits import RateLimiter
from consent_portal.security import truncate_ip
from reconsent.kernel.vocab import RightsKind
from reconsent.ledger.portability import export_csv
from reconsent.rights.subject_requests import due_date, rights_dedupe_key


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 12, 15, 9, 30, tzinfo=UTC), datetime(2027, 1, 15, 9, 30, tzinfo=UTC)),
        (datetime(2027, 1, 31, 8, 0, tzinfo=UTC), datetime(2027, 2, 28, 8, 0, tzinfo=UTC)),
        (datetime(2028, 1, 30, 8, 0, tzinfo=UTC), datetime(2028, 2, 29, 8, 0, tzinfo=UTC)),
        (datetime(2026, 3, 31, 8, 0, tzinfo=UTC), datetime(2026, 4, 30, 8, 0, tzinfo=UTC)),
    ],
)
def test_a_request_is_due_one_calendar_month_after_receipt(
    received: datetime, due: datetime
) -> None:
    assert due_date(received) == due


def test_the_dedupe_key_depends_on_the_kind_and_the_nonce() -> None:
    keys = {rights_dedupe_key(kind, "n") for kind in RightsKind}
    assert len(keys) == len(RightsKind)
    assert rights_dedupe_key(RightsKind.ERASURE, "n") != rights_dedupe_key(RightsKind.ERASURE, "m")


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1::5", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("testclient", "testclient"),
    ],
)
def test_ip_truncation_keeps_the_network_only(address: str, kept: str) -> None:
    assert truncate_ip(address) == kept


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_continuously() -> None:
    clock = _Clock()
    limiter = RateLimiter(6, clock=clock)  # 6 per minute: one token every 10 s

    burst = [limiter.hit("a") for _ in range(6)]
    refused = limiter.hit("a")
    other = limiter.hit("b")
    clock.now += 5
    still = limiter.hit("a")
    clock.now += 5.5
    again = limiter.hit("a")

    assert burst == [0.0] * 6 and other == 0.0
    assert refused == pytest.approx(10.0)
    assert still == pytest.approx(5.0)
    assert again == 0.0


def test_the_least_recently_used_keys_are_forgotten_first() -> None:
    clock = _Clock()
    limiter = RateLimiter(1, max_keys=2, clock=clock)
    limiter.hit("a")
    limiter.hit("b")
    assert limiter.hit("a") > 0  # "a" is now the most recent

    limiter.hit("c")  # forgets "b", the least recently used

    assert limiter.hit("a") > 0  # still remembered (and empty)
    assert limiter.hit("b") == 0.0  # forgotten: a full bucket again
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


def test_the_csv_export_is_one_row_per_field_and_defuses_formulas() -> None:
    data = {
        "format": "v1",
        "controller": "Example",
        "contact": {"email": "a@example.com", "phone": "+393331234567", "erased_at": None},
        "consents": [{"purpose": "p", "provable": True}],
        "consent_history": [{"evidence": {"ip": "203.0.113.0", "ua": "=HYPERLINK(1)"}}],
        "suppressions": [],
        "rights_requests": [
            {
                "details": {
                    "corrections": {
                        "note": "@SUM(A1)",
                        "given_name": '+HYPERLINK("http://x")',
                        "family_name": "-2+3+cmd|' /C calc'!A0",
                        "city": "\tX",
                    }
                }
            }
        ],
    }

    rows = list(csv.reader(io.StringIO(export_csv(data))))

    assert rows[:3] == [
        ["section", "item", "field", "value"],
        ["format", "1", "version", "v1"],
        ["controller", "1", "name", "Example"],
    ]
    assert ["contact", "1", "phone", "'+393331234567"] in rows  # text, not a formula
    assert ["contact", "1", "erased_at", ""] in rows
    assert ["consents", "1", "provable", "true"] in rows
    assert ["consent_history", "1", "evidence.ua", "'=HYPERLINK(1)"] in rows
    assert ["rights_requests", "1", "details.corrections.note", "'@SUM(A1)"] in rows
    # every formula lead, not only = and @ (issue 17)
    corrections = "rights_requests", "1", "details.corrections"
    assert [*corrections[:2], f"{corrections[2]}.given_name", '\'+HYPERLINK("http://x")'] in rows
    assert [*corrections[:2], f"{corrections[2]}.family_name", "'-2+3+cmd|' /C calc'!A0"] in rows
    assert [*corrections[:2], f"{corrections[2]}.city", "'\tX"] in rows
