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
from reconsent.db import SessionSource
from reconsent.imports.batches import parse_batch, stopping, write_rows
from reconsent.imports.csvfile import FileFormat, RawRow, read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import (
    CONTACT_COLUMNS,
    CONTACT_OPTIONAL_COLUMNS,
    ContactRow,
    parse_contact_row,
)
from reconsent.imports.suppressions import store_suppressions
from reconsent.kernel.errors import InvalidRowError
from reconsent.kernel.rules.addresses import address_hash
from reconsent.kernel.vocab import AddressKind, Channel, SuppressionReason
from reconsent.ledger.key_check import checked_address_key
from reconsent.settings import Settings

log = logging.getLogger(__name__)

#: The columns an import may change, compared to decide updated / unchanged.
_FIELDS = (
    "given_name", "family_name", "email", "email_hash", "phone", "phone_hash", "locale", "timezone",
    "customer_since", "contract_exempt", "municipality",
)  # fmt: skip
#: The fields whose values a refused row's reason must never contain.
PERSONAL_FIELDS = ("given_name", "family_name", "email", "phone")
#: The source of the suppressions a CRM's opt-out flags become.
OPT_OUT_SOURCE = "crm opt-out (contacts import)"
ERASED_REASON = "contact was erased at the person's request: it is never re-identified"


def import_contacts(
    session_factory_or_engine: SessionSource,
    path: Path,
    settings: Settings,
    now: datetime,
    fmt: FileFormat | None = None,
) -> ImportReport:
    """Create or update contacts from ``path`` (columns: see ``CONTACT_COLUMNS``, or
    those ``fmt.mapping`` maps to them).

    Each batch of rows commits on its own; refused rows are reported by line and
    the others imported.  A row with an empty email or phone clears that address:
    the file is the CRM's current truth.  Importing the same file again changes
    nothing.  An opt-out flag (``email_opt_out``, ``sms_opt_out``, ``call_opt_out``)
    set to yes adds a suppression of that channel for the row's address (a flag
    set to no lifts nothing).  Raises ``ConfigError`` for a bad header, before
    importing anything, and ``ImportStopped`` for a fatal error, after importing
    every row before it.
    """
    fmt = fmt or FileFormat()
    key = checked_address_key(session_factory_or_engine, settings, now)
    report = ImportReport(file=path.name)
    first_line: dict[str, int] = {}
    mapping = fmt.mapping
    default_timezone = mapping.defaults.get("timezone") if mapping else None
    from_phone = bool(mapping and mapping.timezone_from_phone)
    if mapping is not None:
        mapping.check((*CONTACT_COLUMNS, *CONTACT_OPTIONAL_COLUMNS), "a contacts import")
    required = [c for c in CONTACT_COLUMNS if not (c == "timezone" and from_phone)]
    optional = [*CONTACT_OPTIONAL_COLUMNS, *(["timezone"] if from_phone else [])]

    def parse(raw: RawRow) -> ContactRow:
        external_id = raw.values.get("external_id", "").strip()
        if external_id:
            first = first_line.setdefault(external_id, raw.line)
            if first != raw.line:
                raise InvalidRowError(f"duplicate external_id (first on line {first})")
        return parse_contact_row(
            raw.values, default_timezone=default_timezone, timezone_from_phone=from_phone
        )

    def write(session: Session, rows: list[tuple[int, ContactRow]]) -> None:
        _write(session, rows, key, now, report)

    batches = read_batches(
        path, required, optional, fmt=fmt, report=report, deferred=frozenset({"timezone"})
    )
    with stopping(report):
        for batch in batches:
            rows = parse_batch(batch, parse, report, PERSONAL_FIELDS)
            if rows:
                write_rows(session_factory_or_engine, rows, write, report)
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
    erased: set[str] = set()
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
            erased.add(row.external_id)
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
    opted_out = [
        (address_hash(key, kind, address), channel, SuppressionReason.OBJECTION)
        for _, row in rows
        if row.external_id not in erased
        for channel in row.opt_outs
        for kind, address in [(channel.address_kind, _address(row, channel))]
        if address
    ]
    if opted_out:
        report.suppressions += store_suppressions(
            session, [(entry, OPT_OUT_SOURCE) for entry in opted_out], now
        )


def _address(row: ContactRow, channel: Channel) -> str | None:
    return row.email if channel.address_kind is AddressKind.EMAIL else row.phone


def _columns() -> list[Any]:
    return [getattr(Contact, name) for name in _FIELDS]
