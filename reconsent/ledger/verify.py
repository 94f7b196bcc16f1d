"""Verifying the consent ledger: every subject's hash chain, and the projection.

``verify_ledger`` streams every event in (subject, id) order, recomputes each
hash from the stored fields and the previous event's hash, and reports every
break with the subject and the event.  It also checks that the current-state
projection points at the latest event of each (contact, purpose).  Nothing is
loaded whole: memory stays flat at a million events.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine, func, select

from models import ConsentEvent, ConsentStatus, Purpose
from reconsent.kernel.rules.chain import event_hash

BATCH = 5000


@dataclass(frozen=True)
class Break:
    subject_id: str
    event_id: str
    kind: str  # hash_mismatch | prev_mismatch | projection_mismatch
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "subject_id": self.subject_id,
            "event_id": self.event_id,
            "kind": self.kind,
            "detail": self.detail,
        }


@dataclass
class VerifyReport:
    events: int = 0
    subjects: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "subjects": self.subjects,
            "breaks": [b.as_dict() for b in self.breaks],
        }


_COLUMNS = (
    ConsentEvent.id,
    ConsentEvent.event_id,
    ConsentEvent.subject_id,
    ConsentEvent.purpose_id,
    ConsentEvent.state,
    ConsentEvent.occurred_at,
    ConsentEvent.expires_at,
    ConsentEvent.controller,
    ConsentEvent.jurisdiction,
    ConsentEvent.language,
    ConsentEvent.notice_version,
    ConsentEvent.notice_digest,
    ConsentEvent.method,
    ConsentEvent.channel,
    ConsentEvent.actor,
    ConsentEvent.wave_id,
    ConsentEvent.request_id,
    ConsentEvent.attempt_id,
    ConsentEvent.provider_message_id,
    ConsentEvent.evidence,
    ConsentEvent.provable,
    ConsentEvent.source,
    ConsentEvent.prev_hash,
    ConsentEvent.hash,
)


def _events(engine: Engine, lo: str | None = None, hi: str | None = None) -> Generator[Any]:
    """Stream events in chain order, in keyset-paginated batches (no long cursor),
    for subjects in ``[lo, hi)`` (None: unbounded)."""
    last: tuple[str, int] | None = None
    with engine.connect() as conn:
        while True:
            query = (
                select(*_COLUMNS).order_by(ConsentEvent.subject_id, ConsentEvent.id).limit(BATCH)
            )
            if lo is not None:
                query = query.where(ConsentEvent.subject_id >= lo)
            if hi is not None:
                query = query.where(ConsentEvent.subject_id < hi)
            if last is not None:
                query = query.where(
                    (ConsentEvent.subject_id > last[0])
                    | ((ConsentEvent.subject_id == last[0]) & (ConsentEvent.id > last[1]))
                )
            rows = conn.execute(query).all()
            if not rows:
                return
            yield from rows
            last = (rows[-1].subject_id, rows[-1].id)


def verify_ledger(
    engine: Engine,
    max_breaks: int = 1000,
    *,
    lo: str | None = None,
    hi: str | None = None,
    projection: bool = True,
) -> VerifyReport:
    """Verify every chain of subjects in ``[lo, hi)`` (default: all) and the projection."""
    report = VerifyReport()
    with engine.connect() as conn:
        codes = {pid: code for pid, code in conn.execute(select(Purpose.id, Purpose.code))}
    events = _events(engine, lo, hi)
    with closing(events):  # an early return (max_breaks) closes its connection at once
        _walk(events, codes, report, max_breaks)
    if projection and len(report.breaks) < max_breaks:
        _check_projection(engine, report)
    return report


def _walk(
    events: Iterator[Any], codes: dict[int, str], report: VerifyReport, max_breaks: int
) -> None:
    subject: str | None = None
    prev: str | None = None
    for row in events:
        report.events += 1
        if row.subject_id != subject:
            subject, prev = row.subject_id, None
            report.subjects += 1
        fields = row._asdict()
        fields["purpose"] = codes.get(row.purpose_id)
        if row.prev_hash != prev:
            report.breaks.append(
                Break(
                    row.subject_id,
                    row.event_id,
                    "prev_mismatch",
                    "the previous event of this subject is missing or changed",
                )
            )
        elif event_hash(fields, prev) != row.hash:
            report.breaks.append(
                Break(
                    row.subject_id,
                    row.event_id,
                    "hash_mismatch",
                    "a stored field of this event was changed",
                )
            )
        prev = row.hash  # keep walking from what is stored, so each edit is reported once
        if len(report.breaks) >= max_breaks:
            return


def _verify_range(url: str, lo: str | None, hi: str | None) -> VerifyReport:
    from reconsent.db import make_engine

    engine = make_engine(url)
    try:
        return verify_ledger(engine, lo=lo, hi=hi, projection=False)
    finally:
        engine.dispose()


def verify_ledger_parallel(
    url: str, workers: int | None = None, *, min_events: int = 50_000
) -> VerifyReport:
    """The same verification split by subject ranges over processes (hashing is
    CPU-bound: one process per core). Chains never cross subjects, so ranges are
    independent."""
    from reconsent.db import make_engine

    workers = max(1, workers or os.cpu_count() or 1)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(ConsentEvent)).scalar_one()
        if workers == 1 or total < min_events:
            return verify_ledger(engine)
        bounds: list[str | None] = [None]
        with engine.connect() as conn:
            for k in range(1, workers):
                bounds.append(
                    conn.execute(
                        select(ConsentEvent.subject_id)
                        .order_by(ConsentEvent.subject_id)
                        .offset(total * k // workers)
                        .limit(1)
                    ).scalar_one()
                )
        bounds.append(None)
        ranges = [(bounds[i], bounds[i + 1]) for i in range(workers)]
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_verify_range, [url] * workers, *zip(*ranges, strict=True)))
        report = VerifyReport()
        for part in parts:
            report.events += part.events
            report.subjects += part.subjects
            report.breaks.extend(part.breaks)
        _check_projection(engine, report)
        return report
    finally:
        engine.dispose()


def _check_projection(engine: Engine, report: VerifyReport) -> None:
    """Each (contact, purpose) status must point at the latest event that decides it."""
    latest = (
        select(
            ConsentEvent.contact_id, ConsentEvent.purpose_id, func.max(ConsentEvent.id).label("n")
        )
        .group_by(ConsentEvent.contact_id, ConsentEvent.purpose_id)
        .subquery()
    )
    with engine.connect() as conn:
        orphans = conn.execute(
            select(ConsentStatus.contact_id, ConsentStatus.purpose_id, ConsentStatus.last_event_id)
            .outerjoin(
                latest,
                (latest.c.contact_id == ConsentStatus.contact_id)
                & (latest.c.purpose_id == ConsentStatus.purpose_id),
            )
            .where(latest.c.n.is_(None))
        ).all()
        for contact_id, purpose_id, event in orphans:
            report.breaks.append(
                Break(
                    "-",
                    str(event),
                    "projection_mismatch",
                    f"status of contact {contact_id} purpose {purpose_id} has no event",
                )
            )
        mismatched = conn.execute(
            select(
                ConsentEvent.subject_id,
                ConsentEvent.event_id,
                ConsentStatus.state,
                ConsentEvent.state,
            )
            .join(ConsentEvent, ConsentEvent.id == ConsentStatus.last_event_id)
            .where(ConsentEvent.state != ConsentStatus.state)
        ).all()
        for subject_id, event_id, status_state, event_state in mismatched:
            report.breaks.append(
                Break(
                    subject_id,
                    event_id,
                    "projection_mismatch",
                    f"current state {status_state} but event says {event_state}",
                )
            )
