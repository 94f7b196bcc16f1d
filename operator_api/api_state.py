"""What every request of the operator API shares: settings, clock, sessions, keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from operator_api.access import KeyCache
from reconsent.kernel.batching import Batcher
from reconsent.kernel.clock import Clock
from reconsent.kernel.waveconfig import FrequencyCap, QuietHours
from reconsent.ledger.append import LedgerContext
from reconsent.operators.capture_batch import Captured, ConsentCapture
from reconsent.operators.contact_checks import CheckOptions
from reconsent.operators.reference_data import Reference
from reconsent.settings import Settings

__all__ = ["Api", "api_of", "check_options"]

T = TypeVar("T")
#: How long a process trusts its copy of the catalog's purposes and of the last RPO
#: consultation (a catalog load or an RPO import is seen within this time).
REFERENCE_SECONDS = 5.0


def check_options(settings: Settings) -> CheckOptions:
    """The contactability check as the settings configure it."""
    cap = settings.api_frequency_cap
    return CheckOptions(
        address_key=settings.address_key(),
        region=settings.jurisdiction,
        rpo_validity_days=settings.rpo_validity_days,
        frequency_cap=(
            FrequencyCap(max_requests=cap, days=settings.api_frequency_cap_days) if cap else None
        ),
        quiet_hours=QuietHours(
            ivr=settings.api_calling_hours_ivr, sms=settings.api_calling_hours_sms
        ),
        calendar=settings.patron_calendar(),
    )


@dataclass
class Api:
    settings: Settings
    clock: Clock
    sessions: sessionmaker[Session]
    #: The engine of the checks: autocommit (each statement its own snapshot, no BEGIN and
    #: COMMIT round trips; a check writes nothing) and no ORM session (a check is one
    #: Core statement).
    reads: Engine
    keys: KeyCache
    options: CheckOptions
    limiter: CapacityLimiter | None  # None: database work runs inline on the event loop
    #: The consent posts that arrive together, written in one unit of work.
    captures: Batcher[ConsentCapture, Captured | Exception] = field(init=False)
    #: The catalog's purposes and the last RPO consultation, re-read every few seconds.
    reference: Reference = field(default_factory=lambda: Reference(REFERENCE_SECONDS))

    def ledger_context(self) -> LedgerContext:
        return LedgerContext(
            controller=self.settings.controller_name,
            jurisdiction=self.settings.jurisdiction,
            now=self.clock.now(),
            evidence_key=self.settings.evidence_wrapping_key(),
        )

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` (database I/O) in the thread pool, or inline with ``api_threads = 0``."""
        if self.limiter is None:
            return work()
        return await anyio.to_thread.run_sync(work, limiter=self.limiter)


def api_of(request: Request) -> Api:
    api: Api = request.state.api
    return api
