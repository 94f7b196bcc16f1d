"""Many operator consent posts in one unit of work: the capture endpoint under load.

The API groups the posts that arrive together (:class:`reconsent.kernel.batching.
Batcher`) and writes them here with set-based statements: the contacts of every
post in one read, their purposes and notices once, the hand-over lock once for
every "no" of the batch (it is one exclusive lock: taken per post, it serialised
every refusal of every process), the idempotency keys claimed in one statement,
and one :func:`reconsent.ledger.append.append_events` for every event (one writers'
lock, the subjects' locks in one sorted pass, one insert, one projection upsert).

The events are exactly those :func:`reconsent.operators.capture.
record_operator_choices` records one post at a time (same evidence, same dedupe
keys, each post's own decision time). Anything unusual is left to that exact path:
a post that names an unknown contact, purpose or notice, several contacts or an
erased one, a key reused with another body, or any database error (a deadlock with
another process's batch) rolls the batch back, and the caller writes each post on
its own, answering each as it always did. The fast path never answers an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.orm import Session

from models import ConsentStatus, Contact, IdempotentRequest, Notice, Purpose
from reconsent.campaigns.notices import notice_for
from reconsent.db import hold_contacts, insert_ignoring_conflicts
from reconsent.kernel.locales import language_of
from reconsent.kernel.vocab import ConsentState
from reconsent.ledger.append import LedgerContext, NewEvent, append_events
from reconsent.operators.capture import CallFacts, consent_answer, heard_state, operator_event
from reconsent.operators.contact_checks import CheckOptions, Lookup, lookup_key
from reconsent.operators.idempotency import Answer

__all__ = ["Captured", "ConsentCapture", "NeedsOneByOne", "record_capture_batch"]

_KEYS = IdempotentRequest.metadata.tables[IdempotentRequest.__tablename__]


@dataclass(frozen=True)
class ConsentCapture:
    """One consent post, as the route read it."""

    lookup: Lookup
    choices: tuple[tuple[str, ConsentState], ...]
    notice_version: str
    call: CallFacts
    at: datetime  # when the post arrived: the decision's time
    idempotency: str | None
    digest: str  # of method, path and body (a key reused with another body: 409)


@dataclass(frozen=True)
class Captured:
    answer: Answer
    replayed: bool


class NeedsOneByOne(Exception):
    """The batch holds a post the fast path does not answer (see the module)."""


def record_capture_batch(
    session: Session,
    posts: Sequence[ConsentCapture],
    options: CheckOptions,
    ctx: LedgerContext,
) -> list[Captured]:
    """Every post recorded (or replayed), in order; raises :class:`NeedsOneByOne` (or
    a database error) with nothing written when a post needs the exact path."""
    contacts = _contacts(session, posts, options)
    purposes = _purposes(session, posts)
    notices: dict[tuple[str, str], Notice] = {}
    for post, contact in zip(posts, contacts, strict=True):
        key = (post.notice_version, language_of(contact.locale))
        if key not in notices:
            found = notice_for(session, *key)
            if found is None:
                raise NeedsOneByOne("notice not published")
            notices[key] = found
    replays, followers = _claim_keys(session, posts)
    fresh = [n for n in range(len(posts)) if n not in replays and n not in followers]
    saying_no = [
        contacts[n].id
        for n in fresh
        if any(state is not ConsentState.GIVEN for _, state in posts[n].choices)
    ]
    if saying_no:
        hold_contacts(session, sorted(set(saying_no)), exclusive=True)
    given = _given(session, sorted({contacts[n].id for n in fresh}))
    events: list[NewEvent] = []
    answers: dict[int, Answer] = {}
    for n in fresh:
        post, contact = posts[n], contacts[n]
        language = language_of(contact.locale)
        notice = notices[(post.notice_version, language)]
        states: dict[str, ConsentState] = {}
        for code, wanted in post.choices:
            purpose = purposes[code]
            state = heard_state(wanted, held_given=(contact.id, purpose.id) in given)
            # A later post of the batch on the same purpose sees this one's decision.
            if state is ConsentState.GIVEN:
                given.add((contact.id, purpose.id))
            else:
                given.discard((contact.id, purpose.id))
            states[code] = state
            events.append(
                operator_event(
                    contact, purpose, state, post.at, post.call, language, notice, post.idempotency
                )
            )
        answers[n] = consent_answer(contact.external_id, states)
    append_events(session, events, ctx)
    stored = [
        {"k": posts[n].call.caller.id, "i": posts[n].idempotency, "s": a.status_code, "r": a.body}
        for n, a in answers.items()
        if posts[n].idempotency is not None
    ]
    if stored:
        session.connection().execute(_STORE, stored)  # executemany, pipelined
    for n, leader in followers.items():  # a retry inside the batch: its first's answer
        replays[n] = replays.get(leader) or answers[leader]
    return [
        Captured(replays[n], True) if n in replays else Captured(answers[n], False)
        for n in range(len(posts))
    ]


#: Each fresh post's answer, stored under its key (parameters k, i, s, r).
_STORE = (
    update(_KEYS)
    .where(_KEYS.c.key_id == bindparam("k"), _KEYS.c.idempotency_key == bindparam("i"))
    .values(status_code=bindparam("s"), response=bindparam("r"))
)


#: What a capture reads of a contact (a row, not an ORM object: a batch loads many).
_CONTACT = (
    Contact.id,
    Contact.subject_id,
    Contact.external_id,
    Contact.locale,
    Contact.erased_at,
)


def _contacts(
    session: Session, posts: Sequence[ConsentCapture], options: CheckOptions
) -> list[Any]:
    """The one live contact each post names (else :class:`NeedsOneByOne`)."""
    keys = [lookup_key(post.lookup, options) for post in posts]
    wanted: dict[str, set[str]] = {}
    for key in keys:
        if key is None:
            raise NeedsOneByOne("not an address")
        wanted.setdefault(key.column, set()).add(key.value)
    found: dict[tuple[str, str], list[Any]] = {}
    for column, values in wanted.items():
        attribute = getattr(Contact, column)
        query = select(*_CONTACT, attribute.label("key")).where(attribute.in_(sorted(values)))
        for contact in session.execute(query):
            found.setdefault((column, contact.key), []).append(contact)
    out = []
    for key in keys:
        assert key is not None
        holders = found.get((key.column, key.value), [])
        if len(holders) != 1 or holders[0].erased_at is not None:
            raise NeedsOneByOne("unknown, shared or erased contact")
        out.append(holders[0])
    return out


def _purposes(session: Session, posts: Sequence[ConsentCapture]) -> dict[str, Purpose]:
    codes = {code for post in posts for code, _ in post.choices}
    for post in posts:
        named = [code for code, _ in post.choices]
        if not named or len(set(named)) != len(named):
            raise NeedsOneByOne("each purpose once, at least one")
    found = {p.code: p for p in session.scalars(select(Purpose).where(Purpose.code.in_(codes)))}
    if set(found) != codes:
        raise NeedsOneByOne("unknown purpose")
    return found


def _given(session: Session, contact_ids: list[int]) -> set[tuple[int, int]]:
    rows = session.execute(
        select(ConsentStatus.contact_id, ConsentStatus.purpose_id).where(
            ConsentStatus.contact_id.in_(contact_ids), ConsentStatus.state == ConsentState.GIVEN
        )
    )
    return {(contact_id, purpose_id) for contact_id, purpose_id in rows}


def _claim_keys(
    session: Session, posts: Sequence[ConsentCapture]
) -> tuple[dict[int, Answer], dict[int, int]]:
    """Claim every post's Idempotency-Key in one statement, in key order (as every batch
    does: two batches never wait on each other's keys in a cycle). Returns the answers
    of the posts whose key was answered already (committed), and the posts that repeat
    an earlier post's key in this batch (post -> that first post)."""
    first: dict[tuple[int, str], int] = {}
    followers: dict[int, int] = {}
    for n, post in enumerate(posts):
        if post.idempotency is None:
            continue
        if not 1 <= len(post.idempotency) <= 200:
            raise NeedsOneByOne("bad key")
        key = (post.call.caller.id, post.idempotency)
        if key in first:
            if posts[first[key]].digest != post.digest:
                raise NeedsOneByOne("key reused with another body")
            followers[n] = first[key]
        else:
            first[key] = n
    if not first:
        return {}, followers
    now = max(post.at for post in posts)
    rows = [
        {
            "key_id": key_id,
            "idempotency_key": idem,
            "request_sha256": posts[n].digest,
            "status_code": 0,
            "response": {},
            "created_at": now,
        }
        for (key_id, idem), n in sorted(first.items())
    ]
    # One statement built once, run with every row (SQLAlchemy's "insertmanyvalues": a
    # multi-row INSERT per 1,000 rows, not compiled anew for each batch size).
    claim = insert_ignoring_conflicts(session, _KEYS).returning(
        _KEYS.c.key_id, _KEYS.c.idempotency_key
    )
    inserted = {(key_id, idem) for key_id, idem in session.execute(claim, rows)}
    replays: dict[int, Answer] = {}
    taken = sorted(set(first) - inserted)
    if taken:
        stored = session.execute(
            select(
                _KEYS.c.key_id,
                _KEYS.c.idempotency_key,
                _KEYS.c.request_sha256,
                _KEYS.c.status_code,
                _KEYS.c.response,
            ).where(tuple_(_KEYS.c.key_id, _KEYS.c.idempotency_key).in_(taken))
        )
        for key_id, idem, digest, status, response in stored:
            n = first[(key_id, idem)]
            if digest != posts[n].digest:
                raise NeedsOneByOne("key reused with another body")
            replays[n] = Answer(status, dict(response))
    return replays, followers
