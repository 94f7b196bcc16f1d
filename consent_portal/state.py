"""What every handler shares (built once by the lifespan) and signed-link resolution."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from consent_portal.security import CsrfTokens
from consent_portal.ttl_cache import TtlCache
from models import Contact, SendAttempt, Wave, WaveRequest
from reconsent.campaigns.waves import wave_config
from reconsent.db import SQLITE_BUSY_TIMEOUT_MS, unit_of_work
from reconsent.kernel.clock import Clock
from reconsent.kernel.errors import BadLink, LinkError
from reconsent.kernel.links import LinkPayload, LinkSigner, LinkUse, check_age
from reconsent.kernel.vocab import Channel, RequestStatus
from reconsent.kernel.waveconfig import WaveConfig
from reconsent.ledger.append import LedgerContext
from reconsent.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

T = TypeVar("T")


@dataclass(frozen=True)
class Portal:
    settings: Settings
    clock: Clock
    engine: Engine
    signer: LinkSigner
    csrf: CsrfTokens
    templates: Jinja2Templates
    #: Key of the address HMAC (evidence names a phone by its hash, never in clear).
    address_key: bytes
    #: What every page of a wave shares (config, purposes, notices): ``consent_portal.ttl_cache``.
    cache: TtlCache = field(default_factory=TtlCache)

    def ledger_context(self) -> LedgerContext:
        return LedgerContext(
            controller=self.settings.controller_name,
            jurisdiction=self.settings.jurisdiction,
            now=self.clock.now(),
            evidence_key=self.settings.evidence_wrapping_key(),
        )

    def public_url(self, path: str) -> str:
        """An absolute URL under the configured public base (never the Host header)."""
        return self.settings.portal_base_url.rstrip("/") + path


def portal_of(request: Request) -> Portal:
    return cast(Portal, request.state.portal)


async def run_sync(work: Callable[..., T], portal: Portal, *args: Any) -> T:
    """``work(portal, *args)``: inline on the event loop, or in the threadpool when the
    portal has one (setting ``portal_threads``; see :func:`consent_portal.app.limit_threads`)."""
    if portal.settings.portal_threads == 0:
        return work(portal, *args)
    return await run_in_threadpool(work, portal, *args)


@dataclass(frozen=True)
class LinkContact:
    """What the pages need of the person a link names (never their addresses)."""

    id: int
    subject_id: str
    locale: str
    given_name: str | None


@dataclass(frozen=True)
class OpenLink:
    """A verified link and the request it names."""

    payload: LinkPayload
    request_id: int
    #: The request's status when the link was opened (in the caller's unit of work).
    request_status: RequestStatus
    #: The request's wave: a detached, shared copy from the portal's cache (read only).
    wave: Wave
    contact: LinkContact
    config: WaveConfig
    #: The channel of the step whose message carried the link.
    channel: Channel | None
    attempt_id: int | None
    provider_message_id: str | None


_REQUESTS = WaveRequest.__table__
_CONTACTS = Contact.__table__
_ATTEMPTS = SendAttempt.__table__


@cache
def _link_query() -> Select[Any]:
    """The request's wave, its person and the step's attempt: one round trip, plain rows.

    A Core statement of columns (no ORM entities: loading four objects into a
    session costs more than the query), built once.
    """
    return (
        select(
            _REQUESTS.c.wave_id,
            _REQUESTS.c.status,
            _CONTACTS.c.id,
            _CONTACTS.c.subject_id,
            _CONTACTS.c.locale,
            _CONTACTS.c.given_name,
            _CONTACTS.c.erased_at,
            _ATTEMPTS.c.id,
            _ATTEMPTS.c.channel,
            _ATTEMPTS.c.provider_message_id,
        )
        .join(_CONTACTS, _CONTACTS.c.id == _REQUESTS.c.contact_id)
        .outerjoin(
            _ATTEMPTS,
            and_(
                _ATTEMPTS.c.request_id == _REQUESTS.c.id,
                _ATTEMPTS.c.step_index == bindparam("step_index"),
            ),
        )
        .where(_REQUESTS.c.id == bindparam("request_id"))
    )


def open_link(
    db: Session | Connection,
    portal: Portal,
    use: LinkUse,
    token: str,
    *,
    check_expiry: bool = True,
    payload: LinkPayload | None = None,
) -> OpenLink:
    """Verify ``token`` and load its request; ``BadLink`` / ``ExpiredLink`` otherwise.

    The age is checked against the wave's own link lifetime on the portal's clock.
    A link to a request that is gone, or to an erased person, is a ``BadLink``.
    ``payload``: the token's, when the caller has already verified it.  ``db``: the
    unit of work's session, or a bare connection for a page that only reads.
    """
    if payload is None:
        payload = portal.signer.verify(use, token, None)
    params = {"request_id": payload.request_id, "step_index": payload.step_index}
    conn = db.connection() if isinstance(db, Session) else db
    found = conn.execute(_link_query(), params).first()
    if found is None:
        raise BadLink("this link is not valid")
    return _opened(db, portal, payload, tuple(found), check_expiry)


def open_links(
    session: Session, portal: Portal, payloads: Sequence[LinkPayload]
) -> list[OpenLink | LinkError]:
    """``open_link`` for many verified landing links at once (two queries for all)."""
    conn = session.connection()
    ids = sorted({p.request_id for p in payloads})
    people: dict[int, tuple[Any, ...]] = {}
    attempts: dict[tuple[int, int], tuple[Any, ...]] = {}
    for start in range(0, len(ids), 500):
        chunk = {"ids": ids[start : start + 500]}
        people.update((row[0], tuple(row[1:])) for row in conn.execute(_people_query(), chunk))
        for request_id, step_index, *rest in conn.execute(_attempts_query(), chunk):
            attempts[(request_id, step_index)] = tuple(rest)
    opened: list[OpenLink | LinkError] = []
    for payload in payloads:
        person = people.get(payload.request_id)
        attempt = attempts.get((payload.request_id, payload.step_index), (None, None, None))
        try:
            if person is None:
                raise BadLink("this link is not valid")
            opened.append(_opened(session, portal, payload, person + attempt, True))
        except LinkError as exc:
            opened.append(exc)
    return opened


@cache
def _people_query() -> Select[Any]:
    return (
        select(
            _REQUESTS.c.id,
            _REQUESTS.c.wave_id,
            _REQUESTS.c.status,
            _CONTACTS.c.id,
            _CONTACTS.c.subject_id,
            _CONTACTS.c.locale,
            _CONTACTS.c.given_name,
            _CONTACTS.c.erased_at,
        )
        .join(_CONTACTS, _CONTACTS.c.id == _REQUESTS.c.contact_id)
        .where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
    )


@cache
def _attempts_query() -> Select[Any]:
    return select(
        _ATTEMPTS.c.request_id,
        _ATTEMPTS.c.step_index,
        _ATTEMPTS.c.id,
        _ATTEMPTS.c.channel,
        _ATTEMPTS.c.provider_message_id,
    ).where(_ATTEMPTS.c.request_id.in_(bindparam("ids", expanding=True)))


def _opened(
    db: Session | Connection,
    portal: Portal,
    payload: LinkPayload,
    found: tuple[Any, ...],
    check_expiry: bool,
) -> OpenLink:
    """The link whose row (``_link_query``'s columns) was found."""
    wave_id, status, contact_id, subject_id, locale, name, erased_at, *attempt = found
    attempt_id, channel, pmid = attempt
    if erased_at is not None:
        raise BadLink("this link is not valid")
    wave = shared_wave(portal, db, wave_id)
    config = portal.cache.get(("wave_config", wave_id), lambda: wave_config(wave))
    if check_expiry:
        check_age(payload, config.link_lifetime_delta, portal.clock.now())
    steps = config.steps
    step_channel = (
        steps[payload.step_index].channel if 0 <= payload.step_index < len(steps) else None
    )
    return OpenLink(
        payload=payload,
        request_id=payload.request_id,
        request_status=RequestStatus(status),
        wave=wave,
        contact=LinkContact(contact_id, subject_id, locale, name),
        config=config,
        # The attempt knows its channel (also the IVR key-3 link SMS).
        channel=Channel(channel) if channel is not None else step_channel,
        attempt_id=attempt_id,
        provider_message_id=pmid,
    )


def contact_of(session: Session, link: OpenLink) -> Contact:
    """The link's person as an entity of ``session``, for the writes that change them."""
    contact = session.get(Contact, link.contact.id)
    if contact is None:  # open_link has just read it in this unit of work
        raise BadLink("this link is not valid")
    return contact


def shared_wave(portal: Portal, db: Session | Connection, wave_id: int) -> Wave:
    """The wave, detached and shared through the portal's cache (read only)."""

    def load() -> Wave:
        with orm_session(db) as session:
            wave = session.get(Wave, wave_id)
            if wave is None:  # a foreign key makes this impossible
                raise BadLink("this link is not valid")
            session.expunge(wave)
            return wave

    return portal.cache.get(("wave", wave_id), load)


@contextmanager
def orm_session(db: Session | Connection) -> Iterator[Session]:
    """``db`` itself, or a session on the connection ``db`` (for a cache miss's ORM reads)."""
    if isinstance(db, Session):
        yield db
        return
    with Session(bind=db) as session:
        yield session


def retry_on_conflict(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a writing unit of work; once more if a concurrent twin won a unique key.

    Two identical posts racing (a double click, a provider retrying a webhook)
    both pass the ledger's dedupe check; the loser hits the unique
    ``dedupe_key`` and, run again, sees the winner's events as a replay.
    """
    try:
        with writer(engine), unit_of_work(engine) as session:
            begin_write(session)
            return work(session)
    except IntegrityError:
        with writer(engine), unit_of_work(engine) as session:
            begin_write(session)
            return work(session)


def begin_write(session: Session, *, wait: bool = True) -> bool:
    """On SQLite, take the database's write lock before the unit of work reads anything.

    ``BEGIN IMMEDIATE``: what the unit reads (a chain's head, a dedupe key) cannot
    change under it, even with other portal processes (``--workers``) or other
    programs writing the same file; they queue on SQLite's busy timeout, or with
    ``wait=False`` this returns False at once when another connection holds the
    lock (the caller retries later without blocking its event loop).
    PostgreSQL needs no lock here (row locks and the ledger's advisory locks); its
    write units plan every statement afresh: psycopg prepares a statement run five
    times and PostgreSQL then keeps one generic plan for it, and a plan made while
    ``consent_events`` was small (a new deployment) scans it sequentially forever after.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
        return True
    if session.get_bind().dialect.name != "sqlite":
        return True
    conn = session.connection()
    if wait:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return True
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
            raise
        return False
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return True


#: One lock per SQLite engine (created on first use): see ``writer``.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def writer(engine: Engine) -> AbstractContextManager[object]:
    """On SQLite, one writing unit of work at a time in this process.

    SQLite has one writer anyway; queueing writers on a lock instead of in
    SQLite's busy handler keeps the tail latency flat, and a transaction that
    read first never meets a newer writer's commit when it starts writing
    (``SQLITE_BUSY_SNAPSHOT``, which no busy timeout retries).  PostgreSQL
    runs its writers concurrently.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _SQLITE_WRITERS.get(engine)
    if lock is None:
        lock = _SQLITE_WRITERS.setdefault(engine, threading.Lock())
    return lock
