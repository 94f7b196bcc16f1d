"""The outbox writes short plain headers itself: the bytes must equal compat32's."""

from __future__ import annotations

from email import policy
from pathlib import Path

import pytest

from channels.outbox import _SMTP_COMPAT, FileOutbox
from reconsent.kernel.clock import FixedClock
from reconsent.kernel.vocab import Channel
from tests.support.messages import MakeMessage, make_context

STOCK = policy.compat32.clone(linesep="\r\n")


@pytest.mark.parametrize(
    ("name", "to", "locale", "from_name"),
    [
        ("Anna", "anna.rossi@example.com", "it", "Privacy team"),
        (None, "a@example.it", "en", "Ufficio privacy"),
        ("Zoë  D'Angelo", "zoe@esempio.it", "it", "Privacy, Legal & Co."),
        ("Jean-Baptiste Emmanuel " * 4, "very.long.address." * 4 + "@example.com", "fr", "P"),
        ("  spaced\tname ", "x@xn--bcher-kva.example", "it", "Équipe données"),
    ],
)
def test_headers_are_byte_identical_to_compat32(
    make_message: MakeMessage, name: str | None, to: str, locale: str, from_name: str
) -> None:
    from datetime import UTC, datetime

    outbox = FileOutbox(
        Channel.EMAIL,
        Path("/nonexistent"),
        from_name=from_name,
        clock=FixedClock(datetime(2027, 3, 1, 9, 30, tzinfo=UTC)),
    )
    for attempt_id in (1, 12345, 10**9):
        msg = make_message(
            attempt_id, to=to, to_name=name, locale=locale, context=make_context(locale)
        )
        email = outbox._message(msg)
        assert email.as_bytes(policy=_SMTP_COMPAT) == email.as_bytes(policy=STOCK)
