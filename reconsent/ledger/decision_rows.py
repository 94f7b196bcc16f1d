"""The database side of recording decisions: the requests answered, and closing them.

Plain Core statements, built once: loading the request, wave and person as
ORM objects for a decision costs more than writing the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from models import Contact, WaveRequest
from reconsent.kernel.vocab import Channel, RequestStatus

__all__ = ["Closing", "DecisionTarget", "close_requests", "load_targets"]

_REQUESTS = WaveRequest.metadata.tables[WaveRequest.__tablename__]
_CONTACTS = Contact.metadata.tables[Contact.__tablename__]


@dataclass(frozen=True)
class DecisionTarget:
    """The request a decision answers and its person, as plain values."""

    request_id: int
    status: RequestStatus
    wave_id: int
    contact_id: int
    subject_id: str
    locale: str
    erased: bool


@dataclass(frozen=True)
class Closing:
    request_id: int
    status: RequestStatus
    channel: Channel | None
    reason: str
    #: The status it closes from: ACTIVE, or REFUSED when a later answer to the same
    #: request gives a purpose (a call asks one purpose at a time: "no", then "yes").
    from_status: RequestStatus = RequestStatus.ACTIVE


@cache
def _targets_query() -> Any:
    return (
        select(
            _REQUESTS.c.id,
            _REQUESTS.c.status,
            _REQUESTS.c.wave_id,
            _CONTACTS.c.id,
            _CONTACTS.c.subject_id,
            _CONTACTS.c.locale,
            _CONTACTS.c.erased_at,
        )
        .join(_CONTACTS, _CONTACTS.c.id == _REQUESTS.c.contact_id)
        .where(_REQUESTS.c.id.in_(bindparam("ids", expanding=True)))
    )


def load_targets(session: Session, request_ids: Sequence[int]) -> dict[int, DecisionTarget]:
    """The requests of ``request_ids`` that exist, by id (one query per 500)."""
    found: dict[int, DecisionTarget] = {}
    conn = session.connection()
    unique = sorted(set(request_ids))
    for start in range(0, len(unique), 500):
        rows = conn.execute(_targets_query(), {"ids": unique[start : start + 500]})
        for request_id, status, wave_id, contact_id, subject_id, locale, erased_at in rows:
            found[request_id] = DecisionTarget(
                request_id,
                RequestStatus(status),
                wave_id,
                contact_id,
                subject_id,
                locale,
                erased_at is not None,
            )
    return found


@cache
def _close_statement() -> Any:
    return (
        update(_REQUESTS)
        .where(_REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.status == bindparam("active"))
        .values(
            status=bindparam("status"),
            closed_at=bindparam("now"),
            answered_channel=bindparam("channel"),
            close_reason=bindparam("reason"),
        )
    )


def close_requests(session: Session, closings: Sequence[Closing], now: datetime) -> None:
    """Close each request still in its ``from_status`` (one executemany); loaded copies
    are expired."""
    if not closings:
        return
    session.connection().execute(
        _close_statement(),
        [
            {
                "request_id": c.request_id,
                "active": c.from_status,
                "status": c.status,
                "now": now,
                "channel": c.channel,
                "reason": c.reason,
            }
            for c in closings
        ],
    )
    for closing in closings:
        loaded = session.identity_map.get(session.identity_key(WaveRequest, closing.request_id))
        if loaded is not None:
            session.expire(loaded)
