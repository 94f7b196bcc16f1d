"""Importing consent history from a CRM export into the ledger (``append_events``).

A row citing a notice version must cite one that was published and had taken
effect when the consent was captured (``reconsent.kernel.rules.notice_dates``):
otherwise the row is **refused** with its line and the rest of the file is
imported. Storing it (even as unprovable) would put a statement that cannot be
true in the append-only ledger, and a consent "given under 2026-09" in August
2026 would count as fresh under that notice. A refused refusal or withdrawal is
not recorded either until the row is corrected and imported again: fix its
notice version (or leave it empty). A row that cites no version is imported as
before; waves then judge its freshness by age alone, unless they require their
own notice (``old_notice_versions = ["*"]``), which it never matches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Contact, Notice, Purpose
from reconsent.db import SessionSource
from reconsent.imports.batches import parse_batch, stopping, write_rows
from reconsent.imports.contacts import ERASED_REASON
from reconsent.imports.csvfile import FileFormat, read_batches
from reconsent.imports.report import ImportReport
from reconsent.imports.rows import (
    CONSENT_COLUMNS,
    CONSENT_OPTIONAL_COLUMNS,
    ConsentRow,
    parse_consent_row,
)
from reconsent.kernel.rules.notice_dates import cited_notice_problem
from reconsent.kernel.vocab import CollectionMethod, ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, NoticeRef, append_events
from reconsent.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "import"


@dataclass(frozen=True)
class _Catalog:
    purposes: dict[str, Purpose]
    notices: dict[tuple[str, str], NoticeRef]  # (version, locale) -> published notice
    effective_from: dict[str, datetime]  # version -> when it took effect


def import_consents(
    engine: SessionSource,
    path: Path,
    settings: Settings,
    now: datetime,
    fmt: FileFormat | None = None,
) -> ImportReport:
    """Append the consent history in ``path`` to the ledger, one event per good row.

    Events carry ``method=imported``, ``actor="import"``, the row's source, and
    evidence ``{"import_file", "line", "evidence_ref"?}``; they are provable only
    with an ``evidence_ref``.  A row's ``dedupe_key`` hashes its normalised
    values, so importing the same (or a re-ordered) file again appends nothing.
    Within a batch, a contact's events are appended in ``captured_at`` order.
    ``captured_at`` is an ISO 8601 date or date-time; one without a UTC offset
    is read as UTC, and a date alone as midnight UTC.
    """
    fmt = fmt or FileFormat()
    if fmt.mapping is not None:
        fmt.mapping.check((*CONSENT_COLUMNS, *CONSENT_OPTIONAL_COLUMNS), "a consents import")
    report = ImportReport(file=path.name)
    ctx = LedgerContext(
        settings.controller_name, settings.jurisdiction, now, settings.evidence_wrapping_key()
    )
    seen: set[bytes] = set()  # 16-byte prefixes of the dedupe keys met in this file
    fresh: set[bytes] = set()  # those of the batch being written, until it commits

    def write(session: Session, rows: list[tuple[int, ConsentRow]]) -> None:
        fresh.clear()
        # Per batch (two small queries): a caller's factory may expire objects on commit.
        events = _events(session, rows, _load_catalog(session), path.name, (seen, fresh), report)
        written = append_events(session, events, ctx)
        report.created += len(written)
        report.unchanged += len(events) - len(written)

    batches = read_batches(path, CONSENT_COLUMNS, CONSENT_OPTIONAL_COLUMNS, fmt=fmt, report=report)
    with stopping(report):
        for batch in batches:
            rows = parse_batch(batch, lambda raw: parse_consent_row(raw.values, now), report)
            if rows:
                write_rows(engine, rows, write, report, committed=lambda: seen.update(fresh))
    report.errors.sort(key=lambda error: error.line)
    log.info("consents import %s", report.summary())
    return report


def _load_catalog(session: Session) -> _Catalog:
    purposes = {p.code: p for p in session.scalars(select(Purpose))}
    notices: dict[tuple[str, str], NoticeRef] = {}
    effective_from: dict[str, datetime] = {}
    for id_, version, locale, digest, effective in session.execute(
        select(Notice.id, Notice.version, Notice.locale, Notice.digest, Notice.effective_from)
    ):
        notices[version, locale] = NoticeRef(id_, version, digest)
        effective_from[version] = max(effective, effective_from.get(version, effective))
    return _Catalog(purposes, notices, effective_from)


def _events(
    session: Session,
    rows: list[tuple[int, ConsentRow]],
    catalog: _Catalog,
    file_name: str,
    keys: tuple[set[bytes], set[bytes]],
    report: ImportReport,
) -> list[NewEvent]:
    """The rows' events; ``keys``: the dedupe keys of the batches committed, and those
    of this batch (added here)."""
    seen, fresh = keys
    external_ids = sorted({row.external_id for _, row in rows})
    contacts = {
        found.external_id: found
        for found in session.execute(
            select(
                Contact.id,
                Contact.external_id,
                Contact.subject_id,
                Contact.locale,
                Contact.erased_at,
            ).where(Contact.external_id.in_(external_ids))
        )
    }
    keyed: list[tuple[int, datetime, int, NewEvent]] = []
    for line, row in rows:
        purpose = catalog.purposes.get(row.purpose)
        contact = contacts.get(row.external_id)
        if purpose is None:
            report.error(line, f"unknown purpose {row.purpose!r}")
            continue
        if contact is None:
            report.error(line, "unknown external_id: import the contact first")
            continue
        if contact.erased_at is not None:
            report.error(line, ERASED_REASON)
            continue
        if row.notice_version:
            problem = cited_notice_problem(
                row.notice_version, row.captured_at, catalog.effective_from
            )
            if problem is not None:
                if row.state is not ConsentState.GIVEN:
                    problem += f" (this {row.state.value} is not recorded until then)"
                report.error(line, problem)
                continue
        dedupe_key = row.dedupe_key
        prefix = bytes.fromhex(dedupe_key[:32])
        if prefix in seen or prefix in fresh:
            report.duplicates += 1
            continue
        fresh.add(prefix)
        notice = None
        if row.notice_version:
            notice = catalog.notices.get(
                (row.notice_version, contact.locale), NoticeRef(None, row.notice_version, None)
            )
        evidence: dict[str, Any] = {"import_file": file_name, "line": line}
        if row.evidence_ref:
            evidence["evidence_ref"] = row.evidence_ref
        event = NewEvent(
            contact_id=contact.id,
            subject_id=contact.subject_id,
            purpose=purpose,
            state=row.state,
            occurred_at=row.captured_at,
            method=CollectionMethod.IMPORTED,
            actor=ACTOR,
            channel=row.channel,
            language=contact.locale,
            notice=notice,
            evidence=evidence,
            provable=bool(row.evidence_ref),
            source=row.source,
            dedupe_key=dedupe_key,
        )
        keyed.append((contact.id, row.captured_at, line, event))
    keyed.sort(key=lambda item: item[:3])
    return [event for *_, event in keyed]
