"""Importing a suppression list (RPO matches, a previous provider's bounces...).

Only the HMAC of each normalised address is stored, never the address.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import Suppression, suppression_in_force
from reconsent.db import SessionSource
from reconsent.imports.batches import parse_batch, stopping, write_rows
from reconsent.imports.csvfile import FileFormat, read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import SUPPRESSION_COLUMNS, parse_suppression_row
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import Channel, SuppressionReason
from reconsent.ledger.key_check import checked_address_key
from reconsent.settings import Settings

log = logging.getLogger(__name__)
_Entry = tuple[str, Channel | None, SuppressionReason]


def import_suppressions(
    engine: SessionSource,
    path: Path,
    settings: Settings,
    now: datetime,
    fmt: FileFormat | None = None,
) -> ImportReport:
    """Add the suppressions in ``path`` (channel ``all`` suppresses every channel).

    Phone numbers without a country code are read in ``settings.jurisdiction``.
    An identical (address, channel, reason) already stored is left alone, so a
    re-import changes nothing.
    """
    fmt = fmt or FileFormat()
    if fmt.mapping is not None:
        fmt.mapping.check(SUPPRESSION_COLUMNS, "a suppressions import")
    key = checked_address_key(engine, settings, now)
    region = settings.jurisdiction
    report = ImportReport(file=path.name)
    seen: set[_Entry] = set()

    def write(session: Session, entries: list[tuple[int, tuple[_Entry, str]]]) -> None:
        new = store_suppressions(session, [entry for _, entry in entries], now)
        report.created += new
        report.unchanged += len(entries) - new

    with stopping(report):
        for batch in read_batches(path, SUPPRESSION_COLUMNS, fmt=fmt, report=report):
            rows = parse_batch(
                batch, lambda raw: parse_suppression_row(raw.values, region), report, ("address",)
            )
            entries: list[tuple[int, tuple[_Entry, str]]] = []
            for line, row in rows:
                entry = (address_hash(key, row.kind, row.address), row.channel, row.reason)
                if entry in seen:
                    report.duplicates += 1
                    continue
                seen.add(entry)
                entries.append((line, (entry, row.source)))
            if entries:
                write_rows(engine, entries, write, report)
    report.errors.sort(key=lambda error: error.line)
    log.info("suppressions import %s", report.summary())
    return report


def store_suppressions(session: Session, entries: list[tuple[_Entry, str]], now: datetime) -> int:
    """Insert each (address hash, channel, reason) not in force yet, with its source;
    returns how many were new.  One query, one executemany."""
    hashes = sorted({entry[0] for entry, _ in entries})
    stored: set[_Entry] = {
        (found_hash, channel, reason)
        for found_hash, channel, reason in session.execute(
            select(Suppression.address_hash, Suppression.channel, Suppression.reason).where(
                Suppression.address_hash.in_(hashes), suppression_in_force()
            )
        )
        if found_hash is not None
    }
    new: list[dict[str, Any]] = []
    for entry, source in entries:
        if entry in stored:
            continue
        stored.add(entry)
        new.append(
            {
                "contact_id": None,
                "address_hash": entry[0],
                "channel": entry[1],
                "reason": entry[2],
                "source": source,
                "created_at": now,
            }
        )
    if new:
        table = Suppression.metadata.tables[Suppression.__tablename__]
        session.execute(insert(table), new)  # Core: one executemany
    return len(new)
