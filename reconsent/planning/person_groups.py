"""Contacts sharing an address are one person for a wave: the planning side.

The rule is :mod:`reconsent.kernel.rules.same_person`; this module feeds it from
the database and writes its answer into a plan's classified rows (the scratch
table of :mod:`reconsent.planning.scratch`): the members it changes get
``duplicate_person``, or the "no" or frequency cap of another member.

Only contacts that hold an address hash some other contact also holds are read:
two GROUP BYs find those hashes (over the hash indexes on SQLite, over 32-bit
hashes of them on PostgreSQL), about 0.3-0.5 s each per million contacts, and
the contacts behind them are then looked up. The union-find over the few
contacts found runs in Python; so does the choice within each group, from a few
set-based reads over the members.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, Table, case, func, or_, select, text, union, update
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
    """The contacts holding an e-mail or phone hash that another contact holds too (on
    PostgreSQL, a few more: see :func:`_shared_postgres`)."""
    if is_postgres(session):
        return _shared_postgres(session)
    found = []
    for column in (Contact.email_hash, Contact.phone_hash):
        shared = (  # a walk of the hash index in order, counting runs of equal hashes
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
    rows = session.execute(union(*found))
    return [Identity(cid, email, phone) for cid, email, phone in rows]


def _shared_postgres(session: Session) -> list[Identity]:
    """PostgreSQL groups a million 64-character hashes slowly whichever way it can (a
    hash table of ~200 MB, or a sort in the database's collation: 2-5 s per column
    at a million contacts; its index is only walked in order once vacuum has marked
    the table all-visible). A 32-bit ``hashtext`` of each sorts in a fraction of
    that. The few different addresses with equal 32-bit hashes only add candidates:
    groups are made from the full hashes."""
    keys = []
    for column in (Contact.email_hash, Contact.phone_hash):
        key = func.hashtext(column, type_=Integer)
        keys.append(
            (key, select(key).where(column.is_not(None)).group_by(key).having(func.count() > 1))
        )
    session.execute(text("SET LOCAL enable_hashagg = off"))  # sort the 32-bit keys
    shared = [(key, list(session.scalars(query))) for key, query in keys]
    session.execute(text("SET LOCAL enable_hashagg TO DEFAULT"))
    wanted = [among(session, key, values) for key, values in shared if values]
    if not wanted:
        return []
    rows = session.execute(
        select(Contact.id, Contact.email_hash, Contact.phone_hash).where(or_(*wanted))
    )
    return [Identity(cid, email, phone) for cid, email, phone in rows]


def _members(
    session: Session,
    scratch: Table,
    wave: Wave,
    purposes: Sequence[Purpose],
    identities: dict[int, Identity],
) -> dict[int, Member]:
    """One :class:`Member` per group member: its verdict, and what the choice reads.

    Four set-based reads over the members' ids (one pass each, however many members
    there are; a correlated lookup per member scanned the suppressions each time on
    SQLite, whose statistics cannot tell that most suppressions have no contact).
    """
    ids = sorted(identities)
    verdicts = session.execute(
        select(scratch.c.contact_id, scratch.c.reason).where(
            among(session, scratch.c.contact_id, ids)
        )
    ).all()
    hashes = sorted({h for i in identities.values() for h in (i.email_hash, i.phone_hash) if h})
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
    for cid, reason in verdicts:
        provable_at, at = consents.get(cid, (None, None))
        mine = identities[cid]
        members[cid] = Member(
            cid,
            reason,
            every_suppressed=cid in no_ids or bool({mine.email_hash, mine.phone_hash} & no_hashes),
            asked=cid in asked,
            provable_consent_at=provable_at,
            consent_at=at,
        )
    return members


def apply_person_groups(
    session: Session, scratch: Table, wave: Wave, purposes: Sequence[Purpose]
) -> dict[str, int]:
    """Rewrite the reasons of the group members the rule changes; how many per reason."""
    identities = {i.contact_id: i for i in shared_identities(session)}
    groups = same_person_groups(identities.values())
    if not groups:
        return {}
    in_groups = {i: identities[i] for group in groups for i in group}
    members = _members(session, scratch, wave, purposes, in_groups)
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
