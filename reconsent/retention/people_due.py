"""The facts the retention rule needs, read in batches, and the verdict per contact.

Every contact not erased yet, in batches of contact ids: its consent-status
rows with their purpose's retention, its latest wave request, its last import
(``updated_at``), a restriction, an open rights request. Contacts sharing an
address are then kept or minimised together (``keep_groups_whole``, over the
same-person groups the planner uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose, RightsRequest, WaveRequest
from reconsent.db import among
from reconsent.kernel.rules.retention_policy import (
    PersonFacts,
    PurposeFacts,
    Verdict,
    decide,
    keep_groups_whole,
)
from reconsent.kernel.rules.same_person import same_person_groups
from reconsent.kernel.vocab import RightsStatus
from reconsent.planning.person_groups import shared_identities

__all__ = ["BATCH", "still_due", "verdicts"]

BATCH = 2000


def _batches(session: Session) -> Iterator[list[int]]:
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(Contact.id)
                .where(Contact.erased_at.is_(None), Contact.id > last)
                .order_by(Contact.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def _facts(session: Session, ids: list[int]) -> dict[int, PersonFacts]:
    purposes: dict[int, list[PurposeFacts]] = {i: [] for i in ids}
    for row in session.execute(
        select(
            ConsentStatus.contact_id,
            ConsentStatus.state,
            ConsentStatus.occurred_at,
            ConsentStatus.expires_at,
            Purpose.retention,
        )
        .join(Purpose, Purpose.id == ConsentStatus.purpose_id)
        .where(among(session, ConsentStatus.contact_id, ids))
    ):
        purposes[row.contact_id].append(
            PurposeFacts(row.state, row.occurred_at, row.expires_at, row.retention)
        )
    asked: dict[int, datetime] = {
        cid: at
        for cid, at in session.execute(
            select(WaveRequest.contact_id, func.max(WaveRequest.created_at))
            .where(among(session, WaveRequest.contact_id, ids))
            .group_by(WaveRequest.contact_id)
        )
    }
    open_requests = set(
        session.scalars(
            select(RightsRequest.contact_id).where(
                among(session, RightsRequest.contact_id, ids),
                RightsRequest.status == RightsStatus.OPEN,
            )
        )
    )
    return {
        cid: PersonFacts(
            purposes=purposes[cid],
            last_request_at=asked.get(cid),
            imported_at=updated_at,
            restricted=restricted_at is not None,
            open_rights_request=cid in open_requests,
        )
        for cid, updated_at, restricted_at in session.execute(
            select(Contact.id, Contact.updated_at, Contact.restricted_at).where(
                among(session, Contact.id, ids)
            )
        )
    }


def verdicts(session: Session, *, unanswered_months: int, now: datetime) -> dict[int, Verdict]:
    """The verdict of every contact not erased yet, by contact id."""
    found: dict[int, Verdict] = {}
    for ids in _batches(session):
        for cid, person in _facts(session, ids).items():
            found[cid] = decide(person, unanswered_months=unanswered_months, now=now)
    return keep_groups_whole(found, same_person_groups(shared_identities(session)))


def still_due(
    session: Session, ids: list[int], *, unanswered_months: int, now: datetime
) -> set[int]:
    """Those of ``ids`` the rule still finds due, read again (under the caller's lock):
    a consent given since the verdict keeps its person."""
    return {
        cid
        for cid, person in _facts(session, ids).items()
        if decide(person, unanswered_months=unanswered_months, now=now).due
    }
