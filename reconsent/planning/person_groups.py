"""Contacts sharing an address are one person for a wave: the planning side.

The rule is :mod:`reconsent.kernel.rules.same_person`; this module feeds it from
the database and writes its answer into a plan's classified rows (the scratch
table of :mod:`reconsent.planning.scratch`): the members it changes get
``duplicate_person``, or the "no" or frequency cap of another member.

Only contacts that hold an address hash some other contact also holds are read
(two GROUP BYs over the contacts' hash indexes find those hashes; the contacts
behind them are then looked up through the same indexes), so a base without
duplicates pays for those two index scans only (~0.4 s each per million
contacts on SQLite, ~0.6 s on PostgreSQL). The union-find over the few
contacts found runs in Python; so does the choice within each group, from one
row per member.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, case, func, or_, select, text, union, update
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose, Suppression, Wave, WaveRequest
from reconsent.db import among, is_postgres
from reconsent.kernel.rules.eligibility import PRIOR_STATES
from reconsent.kernel.rules.same_person import (
    Identity,
    Member,
    resolve_group,
    same_person_groups,
)

__all__ = ["apply_person_groups", "shared_identities"]


def shared_identities(session: Session) -> list[Identity]:
    """The contacts holding an e-mail or phone hash that another contact holds too.

    Joins, not ``IN (subquery) OR IN (subquery)``: PostgreSQL runs that OR as a
    subplan per contact unless both subqueries fit in ``work_mem``.
    """
    found = []
    for column in (Contact.email_hash, Contact.phone_hash):
        shared = (
            select(column.label("digest"))
            .where(column.is_not(None))
            .group_by(column)
            .having(func.count() > 1)
            .subquery()
        )
        found.append(
            select(Contact.id, Contact.email_hash, Contact.phone_hash).join(
                shared, column == shared.c.digest
            )
        )
    postgres = is_postgres(session)
    if postgres:
        # With the planning pass's work_mem PostgreSQL hashes every address (~200 MB and
        # ~1 s per column at a million contacts); walking the hash index in order and
        # counting runs of equal hashes is 3-4x faster and needs no memory.
        session.execute(text("SET LOCAL enable_hashagg = off"))
    rows = session.execute(union(*found)).all()
    if postgres:
        session.execute(text("SET LOCAL enable_hashagg TO DEFAULT"))
    return [Identity(cid, email, phone) for cid, email, phone in rows]


def _members(
    session: Session, scratch: Table, wave: Wave, purposes: Sequence[Purpose], ids: list[int]
) -> dict[int, Member]:
    """One :class:`Member` per group member: its verdict, and what the choice reads.

    Four set-based reads over the members' ids (one pass each, however many members
    there are; a correlated lookup per member scanned the suppressions each time on
    SQLite, whose statistics cannot tell that most suppressions have no contact).
    """
    verdicts = session.execute(
        select(scratch.c.contact_id, scratch.c.reason, Contact.email_hash, Contact.phone_hash)
        .join(Contact, Contact.id == scratch.c.contact_id)
        .where(among(session, scratch.c.contact_id, ids))
    ).all()
    hashes = sorted({h for _, _, *pair in verdicts for h in pair if h})
    s = Suppression
    said_no = session.execute(
        select(s.contact_id, s.address_hash).where(
            s.channel.is_(None),
            or_(among(session, s.contact_id, ids), among(session, s.address_hash, hashes)),
        )
    ).all()
    no_ids = {cid for cid, _ in said_no if cid is not None}
    no_hashes = {h for _, h in said_no if h is not None}
    asked = set(
        session.scalars(
            select(WaveRequest.contact_id).where(
                WaveRequest.wave_id == wave.id, among(session, WaveRequest.contact_id, ids)
            )
        )
    )
    cs = ConsentStatus
    consents = {
        cid: (provable_at, at)
        for cid, provable_at, at in session.execute(
            select(
                cs.contact_id,
                func.max(case((cs.provable.is_(True), cs.occurred_at))),
                func.max(cs.occurred_at),
            )
            .where(
                among(session, cs.contact_id, ids),
                cs.purpose_id.in_([p.id for p in purposes]),
                cs.state.in_(sorted(PRIOR_STATES)),
            )
            .group_by(cs.contact_id)
        )
    }
    members = {}
    for cid, reason, email_hash, phone_hash in verdicts:
        provable_at, at = consents.get(cid, (None, None))
        members[cid] = Member(
            cid,
            reason,
            every_suppressed=cid in no_ids or bool({email_hash, phone_hash} & no_hashes),
            asked=cid in asked,
            provable_consent_at=provable_at,
            consent_at=at,
        )
    return members


def apply_person_groups(
    session: Session, scratch: Table, wave: Wave, purposes: Sequence[Purpose]
) -> dict[str, int]:
    """Rewrite the reasons of the group members the rule changes; how many per reason."""
    groups = same_person_groups(shared_identities(session))
    if not groups:
        return {}
    members = _members(session, scratch, wave, purposes, [i for g in groups for i in g])
    changed: dict[str, list[int]] = {}
    for group in groups:
        found = [members[i] for i in group if i in members]
        for contact_id, reason in resolve_group(found).items():
            changed.setdefault(reason, []).append(contact_id)
    for reason, ids in changed.items():
        session.execute(
            update(scratch).where(among(session, scratch.c.contact_id, ids)).values(reason=reason)
        )
    return {reason: len(ids) for reason, ids in changed.items()}
