"""The outcome file a CRM takes back: one row per person asked and purpose of the wave,
with the answer (given, refused, withdrawn, or none), the channel it came by, its time
and how the person's request ended. People are named by the CRM's own id only (no
address, no name); read in id ranges, so a wave of millions streams in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ConsentEvent, Contact, Purpose, Wave, WaveRequest
from reconsent.campaigns.waves import wave_config

__all__ = ["OUTCOME_FIELDS", "csv_lines", "outcome_lines", "outcome_rows"]

OUTCOME_FIELDS = (
    "external_id",
    "purpose",
    "answer",
    "channel",
    "answered_at",
    "request_status",
    "close_reason",
)
#: Requests read per round trip.
CHUNK = 5_000


def outcome_rows(session: Session, wave: Wave) -> Iterator[dict[str, Any]]:
    """Every (person, purpose) of the wave, in request order."""
    codes = wave_config(wave).purposes
    after = 0
    while True:
        requests = session.execute(
            select(
                WaveRequest.id,
                Contact.external_id,
                WaveRequest.status,
                WaveRequest.close_reason,
            )
            .join(Contact, Contact.id == WaveRequest.contact_id)
            .where(WaveRequest.wave_id == wave.id, WaveRequest.id > after)
            .order_by(WaveRequest.id)
            .limit(CHUNK)
        ).all()
        if not requests:
            return
        ids = [r[0] for r in requests]
        latest: dict[tuple[int | None, str], tuple[str, str | None, str | None]] = {}
        for request_id, code, state, by, occurred in session.execute(
            select(
                ConsentEvent.request_id,
                Purpose.code,
                ConsentEvent.state,
                ConsentEvent.channel,
                ConsentEvent.occurred_at,
            )
            .join(Purpose, Purpose.id == ConsentEvent.purpose_id)
            .where(ConsentEvent.wave_id == wave.id, ConsentEvent.request_id.in_(ids))
            .order_by(ConsentEvent.id)
        ):
            latest[request_id, code] = (state.value, by.value if by else None, occurred.isoformat())
        for request_id, external_id, status, close_reason in requests:
            for code in codes:
                answer, channel, when = latest.get((request_id, code), ("none", None, None))
                yield {
                    "external_id": external_id,
                    "purpose": code,
                    "answer": answer,
                    "channel": channel,
                    "answered_at": when,
                    "request_status": status.value,
                    "close_reason": close_reason,
                }
        after = ids[-1]


def csv_lines(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> Iterator[str]:
    """``rows`` as CSV, the header first, one line at a time (constant memory)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.getvalue():  # no row: the header alone
        yield out.getvalue()


def outcome_lines(rows: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """``rows`` as CSV (with a header) or JSON Lines, one line at a time."""
    if fmt == "jsonl":
        return (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return csv_lines(rows, OUTCOME_FIELDS)
