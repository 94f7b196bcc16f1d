"""Importing contacts from a CRM export: upsert by ``external_id``."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models import Contact
from reconsent.db import SessionSource, unit_of_work
from reconsent.imports.batches import parse_batch
from reconsent.imports.csvfile import RawRow, read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import (
    CONTACT_COLUMNS,
    CONTACT_OPTIONAL_COLUMNS,
    ContactRow,
    parse_contact_row,
)
from reconsent.kernel.errors import InvalidRowError
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind
from reconsent.settings import Settings

log = logging.getLogger(__name__)

#: The columns an import may change, compared to decide updated / unchanged.
_FIELDS = (
    "given_name", "family_name", "email", "email_hash", "phone", "phone_hash", "locale", "timezone",
    "customer_since", "contract_exempt", "municipality",
)  # fmt: skip
ERASED_REASON = "contact was erased at the person's request: it is never re-identified"


def import_contacts(
    session_factory_or_engine: SessionSource, path: Path, settings: Settings, now: datetime
) -> ImportReport:
    """Create or update contacts from ``path`` (columns: see ``CONTACT_COLUMNS``).

    Each batch of rows commits on its own; refused rows are reported by line and
    the others imported.  A row with an empty email or phone clears that address:
    the file is the CRM's current truth.  Importing the same file again changes
    nothing.  Raises ``ConfigError`` for a bad header, before importing anything.
    """
    key = settings.address_key()
    report = ImportReport(file=path.name)
    first_line: dict[str, int] = {}

    def parse(raw: RawRow) -> ContactRow:
        external_id = raw.values.get("external_id", "").strip()
        if external_id:
            first = first_line.setdefault(external_id, raw.line)
            if first != raw.line:
                raise InvalidRowError(f"duplicate external_id (first on line {first})")
        return parse_contact_row(raw.values)

    for batch in read_batches(path, CONTACT_COLUMNS, CONTACT_OPTIONAL_COLUMNS):
        rows = parse_batch(batch, parse, report)
        if rows:
            with unit_of_work(session_factory_or_engine) as session:
                _write(session, rows, key, now, report)
    report.errors.sort(key=lambda error: error.line)
    log.info("contacts import %s", report.summary())
    return report


def contact_values(row: ContactRow, key: bytes) -> dict[str, Any]:
    """The stored columns of a row: addresses with their HMAC hashes."""
    return {
        "given_name": row.given_name,
        "family_name": row.family_name,
        "email": row.email,
        "email_hash": address_hash(key, AddressKind.EMAIL, row.email) if row.email else None,
        "phone": row.phone,
        "phone_hash": address_hash(key, AddressKind.PHONE, row.phone) if row.phone else None,
        "locale": row.locale,
        "timezone": row.timezone,
        **({"customer_since": row.customer_since} if row.customer_column else {}),
        **({"contract_exempt": row.contract_exempt} if row.contract_exempt is not None else {}),
        **({"municipality": row.municipality} if row.municipality_column else {}),
    }


def _write(
    session: Session,
    rows: list[tuple[int, ContactRow]],
    key: bytes,
    now: datetime,
    report: ImportReport,
) -> None:
    external_ids = [row.external_id for _, row in rows]
    existing = {
        found.external_id: found
        for found in session.execute(
            select(Contact.id, Contact.external_id, Contact.erased_at, *_columns()).where(
                Contact.external_id.in_(external_ids)
            )
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for line, row in rows:
        values = contact_values(row, key)
        current = existing.get(row.external_id)
        if current is None:
            inserts.append(
                {
                    "external_id": row.external_id,
                    "subject_id": str(uuid.uuid4()),
                    "customer_since": None,
                    "contract_exempt": False,
                    "municipality": None,
                    **values,
                    "created_at": now,
                    "updated_at": now,
                    "erased_at": None,
                }
            )
        elif current.erased_at is not None:
            report.error(line, ERASED_REASON)
        elif any(getattr(current, name) != values[name] for name in _FIELDS if name in values):
            updates.append({"id": current.id, **values, "updated_at": now})
        else:
            report.unchanged += 1
    if inserts:
        # Core, not ORM: the ORM bulk insert splits the batch wherever NULL columns differ.
        table = Contact.metadata.tables[Contact.__tablename__]
        session.execute(insert(table), inserts)
        report.created += len(inserts)
    if updates:
        session.execute(update(Contact), updates)
        report.updated += len(updates)


def _columns() -> list[Any]:
    return [getattr(Contact, name) for name in _FIELDS]
