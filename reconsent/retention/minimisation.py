"""Applying the retention policy: people due are reduced to their suppression hashes.

For each contact the rule finds due (:mod:`.people_due`), in one unit of work
per batch, after taking the person's hand-over lock (as every "no" does):

1. each address hash is suppressed on the channels it serves (reason
   ``erasure``, source ``retention:<reason>``;
   :func:`reconsent.ledger.objections.suppress_person_addresses`): a re-import
   under another CRM id is never contacted, by planning nor by the send gate;
2. the identity is removed and the evidence key crypto-shredded
   (:func:`reconsent.ledger.identity_minimisation.forget_identity`, as an
   erasure does): no UPDATE of the ledger, whose chains still verify.

The report holds counts only. A dry run decides the same and writes nothing;
a second run finds nobody (minimised contacts are erased).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Contact, EvidenceKey
from reconsent.db import SessionSource, among, hold_contacts, unit_of_work
from reconsent.kernel.rules.retention_policy import Verdict
from reconsent.kernel.vocab import SuppressionReason
from reconsent.ledger.append import LedgerContext
from reconsent.ledger.identity_minimisation import forget_identity
from reconsent.ledger.objections import suppress_person_addresses
from reconsent.retention.code_purge import purge_codes
from reconsent.retention.people_due import still_due, verdicts
from reconsent.settings import Settings

__all__ = ["RetentionReport", "apply_retention", "run_retention"]

#: Contacts minimised per unit of work.
CHUNK = 500


@dataclass
class RetentionReport:
    """What a run minimised (or, dry, would): counts only, never personal data."""

    dry_run: bool
    considered: int = 0
    minimised: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    evidence_keys_shredded: int = 0
    addresses_suppressed: int = 0
    #: One-time code challenges past their use (``code_purge.py``).
    codes_deleted: int = 0

    @property
    def minimised_total(self) -> int:
        return sum(self.minimised.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "considered": self.considered,
            "minimised": dict(sorted(self.minimised.items())),
            "minimised_total": self.minimised_total,
            "kept": dict(sorted(self.kept.items())),
            "evidence_keys_shredded": self.evidence_keys_shredded,
            "addresses_suppressed": self.addresses_suppressed,
            "codes_deleted": self.codes_deleted,
        }


def _tally(counts: dict[str, int], reason: str) -> None:
    counts[reason] = counts.get(reason, 0) + 1


def _sorted_out(verdicts_: dict[int, Verdict], report: RetentionReport) -> list[tuple[int, str]]:
    """The due contacts with their reason, in id order; the kept ones counted by reason."""
    due: list[tuple[int, str]] = []
    for contact_id, verdict in sorted(verdicts_.items()):
        if verdict.minimise is not None:
            due.append((contact_id, verdict.minimise.value))
        elif verdict.keep is not None:
            _tally(report.kept, verdict.keep.value)
    return due


def _would_shred(session: Session, ids: list[int]) -> tuple[int, int]:
    """(evidence keys, address hashes) a run would shred and suppress for ``ids``."""
    subjects = select(Contact.subject_id).where(among(session, Contact.id, ids))
    keys = session.scalar(
        select(func.count())
        .select_from(EvidenceKey)
        .where(EvidenceKey.subject_id.in_(subjects), EvidenceKey.wrapped_key.is_not(None))
    )
    hashes = session.execute(
        select(func.count(Contact.email_hash), func.count(Contact.phone_hash)).where(
            among(session, Contact.id, ids)
        )
    ).one()
    return int(keys or 0), int(hashes[0]) + int(hashes[1])


def _minimise(
    session: Session,
    due: list[tuple[int, str]],
    ctx: LedgerContext,
    months: int,
    report: RetentionReport,
) -> None:
    ids = [cid for cid, _ in due]
    hold_contacts(session, ids, exclusive=True)
    # Read again under the lock: a consent given (or an erasure) since the verdict wins.
    ids = sorted(still_due(session, ids, unanswered_months=months, now=ctx.now))
    reasons = dict(due)
    for contact in session.scalars(
        select(Contact).where(among(session, Contact.id, ids), Contact.erased_at.is_(None))
    ):
        report.addresses_suppressed += sum(1 for h in (contact.email_hash, contact.phone_hash) if h)
        source = f"retention:{reasons[contact.id]}"
        suppress_person_addresses(session, contact, SuppressionReason.ERASURE, source, ctx)
        report.evidence_keys_shredded += forget_identity(session, contact, ctx.now)
        _tally(report.minimised, reasons[contact.id])


def apply_retention(
    engine: SessionSource, ctx: LedgerContext, *, unanswered_months: int, dry_run: bool = False
) -> RetentionReport:
    """Minimise everyone the policy finds due at ``ctx.now`` (see the module)."""
    report = RetentionReport(dry_run=dry_run)
    with unit_of_work(engine) as session:
        found = verdicts(session, unanswered_months=unanswered_months, now=ctx.now)
    report.considered = len(found)
    due = _sorted_out(found, report)
    for start in range(0, len(due), CHUNK):
        chunk = due[start : start + CHUNK]
        with unit_of_work(engine) as session:
            if not dry_run:
                _minimise(session, chunk, ctx, unanswered_months, report)
                continue
            keys, hashes = _would_shred(session, [cid for cid, _ in chunk])
        report.evidence_keys_shredded += keys
        report.addresses_suppressed += hashes
        for _, reason in chunk:
            _tally(report.minimised, reason)
    with unit_of_work(engine) as session:
        report.codes_deleted = purge_codes(session, ctx.now, dry_run=dry_run)
    return report


def run_retention(
    engine: SessionSource, settings: Settings, now: datetime, *, dry_run: bool = False
) -> RetentionReport:
    """:func:`apply_retention` with the policy and keys of ``settings`` (the CLI, the flow)."""
    ctx = LedgerContext(
        settings.controller_name,
        settings.jurisdiction,
        now,
        None if dry_run else settings.evidence_wrapping_key(),
    )
    return apply_retention(
        engine, ctx, unanswered_months=settings.retention_unanswered_months, dry_run=dry_run
    )
