"""Verifying the consent ledger: every subject's hash chain, and the projection.

``verify_ledger`` streams every event in (subject, id) order, recomputes each
hash from the stored fields and the previous event's hash, under the scheme
version the event names (v1, v2 or v3, ``reconsent/kernel/rules/chain.py``), and
reports every break with the subject and the event. It then checks that the
current-state projection equals the latest event of each (contact, purpose)
(``reconsent/ledger/projection_check.py``). Nothing is loaded whole: memory
stays flat at a million events.

Given checkpoint marks (the highest event id of each signed checkpoint), the
same walk also records, per subject, the head of its chain at each mark: what
``reconsent/ledger/checkpoints.py`` compares with the signed heads.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine, String, func, select, type_coerce

from models import ConsentEvent, Purpose
from reconsent.kernel.rules.chain import VERSIONS, event_hash
from reconsent.kernel.rules.identifying_evidence import identifying_in_clear

BATCH = 5000

#: Per subject, the heads its chain had at the checkpoint marks: ``(first mark index,
#: stored hash)``, in order; the head at mark ``k`` is the last entry with index <= k.
Heads = dict[str, list[tuple[int, str]]]


@dataclass(frozen=True)
class Break:
    subject_id: str
    event_id: str
    #: hash_mismatch | prev_mismatch | unknown_version | projection_mismatch |
    #: checkpoint_mismatch | checkpoint_invalid | suppression_mismatch | unsealed_evidence
    kind: str
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
    #: Events per hash scheme version.
    versions: dict[int, int] = field(default_factory=dict)
    #: Filled when the walk was given checkpoint marks (see ``Heads``).
    heads: Heads = field(default_factory=dict)
    #: Events with id <= each mark.
    mark_counts: list[int] = field(default_factory=list)
    #: The walk stopped at ``max_breaks``: heads and counts are incomplete.
    truncated: bool = False
    #: What was checked against which checkpoint (file name, highest id, ok).
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def merge(self, part: VerifyReport) -> None:
        """Fold in the report of a disjoint range of subjects."""
        self.events += part.events
        self.subjects += part.subjects
        self.breaks.extend(part.breaks)
        for version, n in part.versions.items():
            self.versions[version] = self.versions.get(version, 0) + n
        self.heads.update(part.heads)
        if part.mark_counts:
            if not self.mark_counts:
                self.mark_counts = [0] * len(part.mark_counts)
            self.mark_counts = [
                a + b for a, b in zip(self.mark_counts, part.mark_counts, strict=True)
            ]
        self.truncated = self.truncated or part.truncated

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "subjects": self.subjects,
            "hash_versions": {str(v): n for v, n in sorted(self.versions.items())},
            "checkpoints": self.checkpoints,
            "breaks": [b.as_dict() for b in self.breaks],
        }


#: Every column a chain check reads (the hash body, the chain links, the version).
CHAIN_COLUMNS = (
    ConsentEvent.id,
    ConsentEvent.event_id,
    ConsentEvent.subject_id,
    ConsentEvent.contact_id,
    ConsentEvent.purpose_id,
    # Enumerations as the stored text (what a hash covers): no lookup of the enum member.
    type_coerce(ConsentEvent.state, String).label("state"),
    ConsentEvent.occurred_at,
    ConsentEvent.recorded_at,
    ConsentEvent.expires_at,
    ConsentEvent.controller,
    ConsentEvent.jurisdiction,
    ConsentEvent.language,
    ConsentEvent.notice_id,
    ConsentEvent.notice_version,
    ConsentEvent.notice_digest,
    type_coerce(ConsentEvent.method, String).label("method"),
    type_coerce(ConsentEvent.channel, String).label("channel"),
    ConsentEvent.actor,
    ConsentEvent.wave_id,
    ConsentEvent.request_id,
    ConsentEvent.attempt_id,
    ConsentEvent.provider_message_id,
    ConsentEvent.evidence,
    ConsentEvent.provable,
    ConsentEvent.source,
    ConsentEvent.dedupe_key,
    ConsentEvent.prev_hash,
    ConsentEvent.hash,
    ConsentEvent.hash_version,
)


def _events(engine: Engine, lo: str | None = None, hi: str | None = None) -> Generator[Any]:
    """Stream events in chain order, in keyset-paginated batches (no long cursor),
    for subjects in ``[lo, hi)`` (None: unbounded)."""
    last: tuple[str, int] | None = None
    with engine.connect() as conn:
        while True:
            query = (
                select(*CHAIN_COLUMNS)
                .order_by(ConsentEvent.subject_id, ConsentEvent.id)
                .limit(BATCH)
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
    marks: Sequence[int] = (),
) -> VerifyReport:
    """Verify every chain of subjects in ``[lo, hi)`` (default: all) and the projection;
    with ``marks`` (ascending event ids), record each chain's head at each mark."""
    report = VerifyReport()
    with engine.connect() as conn:
        codes = {pid: code for pid, code in conn.execute(select(Purpose.id, Purpose.code))}
    events = _events(engine, lo, hi)
    with closing(events):  # an early return (max_breaks) closes its connection at once
        _walk(events, codes, report, max_breaks, list(marks))
    if projection and len(report.breaks) < max_breaks:
        from reconsent.ledger.projection_check import check_projection

        check_projection(engine, report, max_breaks)
    return report


def _walk(
    events: Iterator[Any],
    codes: dict[int, str],
    report: VerifyReport,
    max_breaks: int,
    marks: list[int],
) -> None:
    subject = ""  # no subject id is empty (the column is a UUID)
    prev: str | None = None
    versions: dict[int, int] = {}
    heads = report.heads
    n_marks = len(marks)
    counts = [0] * (n_marks + 1)  # events by the first mark at or above their id
    pending: tuple[int, str] | None = None  # (first mark index, hash) of the previous event
    for row in events:
        report.events += 1
        if row.subject_id != subject:
            if pending is not None and pending[0] < n_marks:
                heads.setdefault(subject, []).append(pending)
            subject, prev, pending = row.subject_id, None, None
            report.subjects += 1
        version = row.hash_version
        versions[version] = versions.get(version, 0) + 1
        if n_marks:
            first = bisect_left(marks, row.id)
            counts[first] += 1
            if pending is not None and pending[0] < first:
                heads.setdefault(subject, []).append(pending)
            pending = (first, row.hash)
        broken = _check(row, codes, prev, version)
        if broken is not None:
            report.breaks.append(broken)
        prev = row.hash  # keep walking from what is stored, so each edit is reported once
        if len(report.breaks) >= max_breaks:
            report.truncated = True
            break
    if pending is not None and pending[0] < n_marks:
        heads.setdefault(subject, []).append(pending)
    report.versions = versions
    running = 0
    for k in range(n_marks):
        running += counts[k]
        report.mark_counts.append(running)


def _check(row: Any, codes: dict[int, str], prev: str | None, version: int) -> Break | None:
    if row.prev_hash != prev:
        return Break(
            row.subject_id,
            row.event_id,
            "prev_mismatch",
            "the previous event of this subject is missing or changed",
        )
    if version not in VERSIONS:
        return Break(
            row.subject_id, row.event_id, "unknown_version", f"unknown hash version {version!r}"
        )
    fields = row._asdict()
    fields["purpose"] = codes.get(row.purpose_id)
    if event_hash(fields, prev, version) != row.hash:
        return Break(
            row.subject_id,
            row.event_id,
            "hash_mismatch",
            f"a stored field of this event was changed (hash v{version})",
        )
    if version >= 3 and row.evidence:
        clear = identifying_in_clear(row.evidence)
        if clear:
            return Break(
                row.subject_id,
                row.event_id,
                "unsealed_evidence",
                f"identifying evidence in clear in a v3 event: {', '.join(clear)}",
            )
    return None


def _verify_range(url: str, lo: str | None, hi: str | None, marks: list[int]) -> VerifyReport:
    from reconsent.db import make_engine

    engine = make_engine(url)
    try:
        return verify_ledger(engine, lo=lo, hi=hi, projection=False, marks=marks)
    finally:
        engine.dispose()


def verify_ledger_parallel(
    url: str,
    workers: int | None = None,
    *,
    min_events: int = 50_000,
    marks: Sequence[int] = (),
) -> VerifyReport:
    """The same verification split by subject ranges over processes (hashing is
    CPU-bound: one process per core). Chains never cross subjects, so ranges are
    independent."""
    from reconsent.db import make_engine
    from reconsent.ledger.projection_check import check_projection

    workers = max(1, workers or os.cpu_count() or 1)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(ConsentEvent)).scalar_one()
        if workers == 1 or total < min_events:
            return verify_ledger(engine, marks=marks)
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
            parts = list(
                pool.map(
                    _verify_range,
                    [url] * workers,
                    *zip(*ranges, strict=True),
                    [list(marks)] * workers,
                )
            )
        report = VerifyReport()
        for part in parts:
            report.merge(part)
        check_projection(engine, report)
        return report
    finally:
        engine.dispose()
