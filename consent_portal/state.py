"""What every handler shares (built once by the lifespan) and signed-link resolution."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.templating import Jinja2Templates

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


def open_link(
    session: Session, portal: Portal, use: LinkUse, token: str, *, check_expiry: bool = True
) -> OpenLink:
    """Verify ``token`` and load its request; ``BadLink`` / ``ExpiredLink`` otherwise.

    The age is checked against the wave's own link lifetime on the portal's clock.
    A link to a request that is gone, or to an erased person, is a ``BadLink``.
    """
    payload = portal.signer.verify(use, token, None)
    request = session.get(WaveRequest, payload.request_id)
    if request is None:
        raise BadLink("this link is not valid")
    wave = session.get(Wave, request.wave_id)
    contact = session.get(Contact, request.contact_id)
    if wave is None or contact is None or contact.erased_at is not None:
        raise BadLink("this link is not valid")
    config = wave_config(wave)
    if check_expiry:
        check_age(payload, config.link_lifetime_delta, portal.clock.now())
    steps = config.steps
    channel = steps[payload.step_index].channel if 0 <= payload.step_index < len(steps) else None
    attempt = session.scalar(
        select(SendAttempt).where(
            SendAttempt.request_id == request.id, SendAttempt.step_index == payload.step_index
        )
    )
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
        with unit_of_work(engine) as session:
            return work(session)
    except IntegrityError:
        with unit_of_work(engine) as session:
            return work(session)
