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

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    case,
    func,
    literal,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, Purpose, Wave, WaveRequest
from reconsent.db import among, is_postgres
from reconsent.kernel.rules.eligibility import ELIGIBLE, PRIOR_STATES
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
    shared = []
    for column in (Contact.email_hash, Contact.phone_hash):
        key = func.hashtext(column, type_=Integer)
        repeated = select(key).where(column.is_not(None)).group_by(key).having(func.count() > 1)
        # In the statement, not as a list of values: PostgreSQL looks each row's key up in
        # a hashed subplan. A parameter array is searched row by row (10M contacts with
        # ~20,000 colliding keys: 12 minutes instead of seconds).
        shared.append(key.in_(repeated.scalar_subquery()))
    session.execute(text("SET LOCAL enable_hashagg = off"))  # sort the 32-bit keys
    rows = session.execute(
        select(Contact.id, Contact.email_hash, Contact.phone_hash).where(or_(*shared))
    ).all()
    session.execute(text("SET LOCAL enable_hashagg TO DEFAULT"))
    return [Identity(cid, email, phone) for cid, email, phone in rows]


def _verdicts(session: Session, scratch: Table, ids: list[int]) -> dict[int, Member]:
    """The members' own verdicts, from the classification (one pass over it)."""
    rows = session.execute(
        select(scratch.c.contact_id, scratch.c.reason, scratch.c.every_suppressed).where(
            among(session, scratch.c.contact_id, ids)
        )
    )
    return {cid: Member(cid, reason, bool(every)) for cid, reason, every in rows}


def _with_history(
    session: Session, wave: Wave, purposes: Sequence[Purpose], members: list[Member]
) -> list[Member]:
    """``members`` with what the choice among them reads: whether this wave asks them
    already, and their latest consents (two set-based reads over their ids)."""
    ids = [m.contact_id for m in members]
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
    return [
        replace(
            m,
            asked=m.contact_id in asked,
            provable_consent_at=consents.get(m.contact_id, (None, None))[0],
            consent_at=consents.get(m.contact_id, (None, None))[1],
        )
        for m in members
    ]


def apply_person_groups(
    session: Session, scratch: Table, wave: Wave, purposes: Sequence[Purpose]
) -> dict[str, int]:
    """Rewrite the reasons of the group members the rule changes; how many per reason."""
    groups = same_person_groups(shared_identities(session))
    if not groups:
        return {}
    verdicts = _verdicts(session, scratch, [i for group in groups for i in group])
    members = [[verdicts[i] for i in group if i in verdicts] for group in groups]
    # A group nobody in which is eligible changes nothing: its history is not read.
    open_groups = [g for g in members if any(m.reason == ELIGIBLE for m in g)]
    if not open_groups:
        return {}
    read = iter(_with_history(session, wave, purposes, [m for g in open_groups for m in g]))
    changed: dict[int, str] = {}
    for group in open_groups:
        changed.update(resolve_group([next(read) for _ in group]))
    _rewrite(session, scratch, changed)
    return dict(Counter(changed.values()))


def _rewrite(session: Session, scratch: Table, changed: dict[int, str]) -> None:
    """Set the new reasons: one UPDATE per reason (SQLite: by rowid), one UPDATE from
    the pairs on PostgreSQL (a single pass over the unindexed scratch table)."""
    if not changed:
        return
    if is_postgres(session):
        pairs = select(  # two arrays unnested side by side: (id, reason) rows
            func.unnest(literal(list(changed), ARRAY(Integer))).label("id"),
            func.unnest(literal(list(changed.values()), ARRAY(String))).label("reason"),
        ).subquery("pairs")
        session.execute(
            update(scratch).where(scratch.c.contact_id == pairs.c.id).values(reason=pairs.c.reason)
        )
        return
    by_reason: dict[str, list[int]] = {}
    for contact_id, reason in changed.items():
        by_reason.setdefault(reason, []).append(contact_id)
    for reason, ids in by_reason.items():
        session.execute(
            update(scratch).where(among(session, scratch.c.contact_id, ids)).values(reason=reason)
        )
