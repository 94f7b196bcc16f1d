"""What every handler shares (built once by the lifespan) and signed-link resolution."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Engine, Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from consent_portal.cache import TtlCache
from consent_portal.security import CsrfTokens
from models import Contact, SendAttempt, Wave, WaveRequest
from reconsent.clock import Clock
from reconsent.db import unit_of_work
from reconsent.errors import BadLink
from reconsent.ledger import LedgerContext
from reconsent.links import LinkPayload, LinkSigner, LinkUse, check_age
from reconsent.settings import Settings
from reconsent.vocab import Channel
from reconsent.waveconfig import WaveConfig
from reconsent.waves import wave_config

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
    #: What every page of a wave shares (config, purposes, notices): ``consent_portal.cache``.
    cache: TtlCache = field(default_factory=TtlCache)

    def ledger_context(self) -> LedgerContext:
        return LedgerContext(
            controller=self.settings.controller_name,
            jurisdiction=self.settings.jurisdiction,
            now=self.clock.now(),
        )

    def public_url(self, path: str) -> str:
        """An absolute URL under the configured public base (never the Host header)."""
        return self.settings.portal_base_url.rstrip("/") + path


def portal_of(request: Request) -> Portal:
    return cast(Portal, request.state.portal)


@dataclass(frozen=True)
class OpenLink:
    """A verified link and the request it names."""

    payload: LinkPayload
    request: WaveRequest
    wave: Wave
    contact: Contact
    config: WaveConfig
    #: The channel of the step whose message carried the link.
    channel: Channel | None
    attempt_id: int | None
    provider_message_id: str | None


@cache
def _link_query() -> Select[WaveRequest, Wave, Contact, SendAttempt]:
    """The request, its wave and contact, and the step's attempt: one round trip.

    Built once (statement construction costs more than the query on SQLite).
    """
    return (
        select(WaveRequest, Wave, Contact, SendAttempt)
        .join(Wave, Wave.id == WaveRequest.wave_id)
        .join(Contact, Contact.id == WaveRequest.contact_id)
        .outerjoin(
            SendAttempt,
            and_(
                SendAttempt.request_id == WaveRequest.id,
                SendAttempt.step_index == bindparam("step_index"),
            ),
        )
        .where(WaveRequest.id == bindparam("request_id"))
    )


def open_link(
    session: Session,
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
    ``payload``: the token's, when the caller has already verified it.
    """
    if payload is None:
        payload = portal.signer.verify(use, token, None)
    found = session.execute(
        _link_query(), {"request_id": payload.request_id, "step_index": payload.step_index}
    ).first()
    if found is None:
        raise BadLink("this link is not valid")
    request, wave, contact, attempt = found
    if contact.erased_at is not None:
        raise BadLink("this link is not valid")
    config = portal.cache.get(("wave_config", wave.id), lambda: wave_config(wave))
    if check_expiry:
        check_age(payload, config.link_lifetime_delta, portal.clock.now())
    steps = config.steps
    channel = steps[payload.step_index].channel if 0 <= payload.step_index < len(steps) else None
    if attempt is not None:  # the attempt knows its channel (also the IVR key-3 link SMS)
        channel = attempt.channel
    return OpenLink(
        payload=payload,
        request=request,
        wave=wave,
        contact=contact,
        config=config,
        channel=channel,
        attempt_id=attempt.id if attempt else None,
        provider_message_id=attempt.provider_message_id if attempt else None,
    )


def retry_on_conflict(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a unit of work; once more if a concurrent twin won a unique key.

    Two identical posts racing (a double click, a provider retrying a webhook)
    both pass the ledger's dedupe check; the loser hits the unique
    ``dedupe_key`` and, run again, sees the winner's events as a replay.
    """
    try:
        with writer(engine), unit_of_work(engine) as session:
            return work(session)
    except IntegrityError:
        with writer(engine), unit_of_work(engine) as session:
            return work(session)


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
