"""Importing a suppression list (RPO matches, a previous provider's bounces...).

Only the HMAC of each normalised address is stored, never the address.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from models import Suppression, suppression_in_force
from reconsent.db import SessionSource, unit_of_work
from reconsent.imports.batches import parse_batch
from reconsent.imports.csvfile import read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import SUPPRESSION_COLUMNS, parse_suppression_row
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import Channel, SuppressionReason
from reconsent.settings import Settings

log = logging.getLogger(__name__)
_Entry = tuple[str, Channel | None, SuppressionReason]


def import_suppressions(
    engine: SessionSource, path: Path, settings: Settings, now: datetime
) -> ImportReport:
    """Add the suppressions in ``path`` (channel ``all`` suppresses every channel).

    Phone numbers without a country code are read in ``settings.jurisdiction``.
    An identical (address, channel, reason) already stored is left alone, so a
    re-import changes nothing.
    """
    key = settings.address_key()
    region = settings.jurisdiction
    report = ImportReport(file=path.name)
    seen: set[_Entry] = set()
    for batch in read_batches(path, SUPPRESSION_COLUMNS):
        rows = parse_batch(batch, lambda raw: parse_suppression_row(raw.values, region), report)
        entries: list[tuple[_Entry, str]] = []
        for _line, row in rows:
            entry = (address_hash(key, row.kind, row.address), row.channel, row.reason)
            if entry in seen:
                report.duplicates += 1
                continue
            seen.add(entry)
            entries.append((entry, row.source))
        if not entries:
            continue
        with unit_of_work(engine) as session:
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
            new: list[dict[str, Any]] = [
                {
                    "contact_id": None,
                    "address_hash": entry[0],
                    "channel": entry[1],
                    "reason": entry[2],
                    "source": source,
                    "created_at": now,
                }
                for entry, source in entries
                if entry not in stored
            ]
            if new:
                table = Suppression.metadata.tables[Suppression.__tablename__]
                session.execute(insert(table), new)  # Core: one executemany
        report.created += len(new)
        report.unchanged += len(entries) - len(new)
    report.errors.sort(key=lambda error: error.line)
    log.info("suppressions import %s", report.summary())
    return report
